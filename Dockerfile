# syntax=docker/dockerfile:1
# vtpeer signaling server (with embedded TURN) in a minimal, non-root image.
#
#   docker build -t vtpeer .
#   docker run -p 8080:8080 -p 3478:3478/udp -p 3478:3478/tcp -v vtpeer:/data vtpeer \
#     serve --turn --turn-public-ip 203.0.113.7
#
# TURN relays use ephemeral UDP ports: with Docker's port mapping only 3478
# is reachable, so for relaying run with --network host (or publish the
# relay range). Not built in this repository's CI (no Docker engine there):
# .ci/run runs the static release binary the way this image does instead
# (packaging/rootfs-smoke.sh: chrooted, uid 65532, VTPEER_HOME=/data, SIGTERM).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Static cgo build: libsecp256k1 for tips, static glibc without NSS (netgo, osusergo).
RUN CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo \
      -ldflags "-s -w -X main.version=${VERSION} -linkmode external -extldflags -static" \
      -o /out/vtpeer ./cmd/vtpeer \
 && /out/vtpeer version \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vtpeer /usr/bin/vtpeer
COPY --from=build --chown=65532:65532 /out/data /data
COPY LICENSE NOTICE THIRD_PARTY_LICENSES.md /usr/share/doc/vtpeer/
ENV VTPEER_HOME=/data
VOLUME ["/data"]
WORKDIR /data
USER 65532:65532
EXPOSE 8080/tcp 3478/udp 3478/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/vtpeer"]
CMD ["serve", "--addr", ":8080"]
