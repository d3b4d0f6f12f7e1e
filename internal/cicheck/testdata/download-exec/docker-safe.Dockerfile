FROM debian:bookworm
RUN curl -fsSLo /tmp/tool.tgz https://dl.example/tool-1.2.3.tgz \
 && echo "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0  /tmp/tool.tgz" | sha256sum -c - \
 && tar -xzf /tmp/tool.tgz -C /usr/local
RUN <<EOF
echo "we never pipe a download into a shell"
EOF
COPY <<EOF /etc/motd
curl https://x.example | sh is only text here
EOF
