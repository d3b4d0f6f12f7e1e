FROM alpine:3.20
RUN <<EOT
echo never closed
