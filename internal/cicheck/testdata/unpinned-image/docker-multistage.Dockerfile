# syntax=docker/dockerfile:1.7
ARG BASE=golang:1.23-bookworm
ARG RUNTIME_TAG=3.20
ARG DISTROLESS=gcr.io/distroless/static@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

FROM --platform=$BUILDPLATFORM ${BASE} AS builder
WORKDIR /src
COPY . .
RUN go build -o /out/app ./cmd/app

FROM builder AS tested
RUN go test ./...

from alpine:${RUNTIME_TAG:-3.19} as runtime
COPY --from=builder /out/app /usr/local/bin/app
COPY --from=docker.io/library/busybox:1.36 /bin/busybox /bin/busybox
COPY --from=0 /src/LICENSE /LICENSE
RUN --mount=type=bind,from=ghcr.io/example/tools:latest,target=/tools /tools/setup

FROM $DISTROLESS AS final
COPY --from=runtime /usr/local/bin/app /app

FROM scratch
COPY --from=final /app /app

FROM registry.example:5000/team/base
