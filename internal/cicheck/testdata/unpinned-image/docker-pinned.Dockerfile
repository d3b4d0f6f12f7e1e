# escape=`
ARG BASE=node:22-alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM ${BASE} AS deps
RUN npm ci
FROM mcr.microsoft.com/windows/servercore:ltsc2022@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
COPY --from=deps C:\app C:\app
FROM deps
