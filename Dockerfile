# hooklatch's container image: a static, CGO-free binary on an empty base
# (scratch), run as an unprivileged user, with the store in a volume.
# docs/deploy.md says how to build and run it.
#
#   docker build -t hooklatch .
#   docker run -d --name hooklatch -p 3000:3000 -v hooklatch:/var/lib/hooklatch \
#     -e SENT_WEBHOOK_SECRET=whsec_... hooklatch
#
# GO_IMAGE is the build stage's base: any image with Go (as GO_VERSION or
# newer), a POSIX shell and /etc/ssl/certs/ca-certificates.crt. Where no
# registry can be reached, one assembled locally serves (.ci/image does so).
ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Release builds name themselves; without these, 'hooklatch version' says
# what the Go toolchain recorded.
ARG VERSION=""
ARG REVISION=""
ARG BUILD_TIME=""
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w \
        -X github.com/hooklatch/hooklatch/internal/cli.Version=${VERSION} \
        -X github.com/hooklatch/hooklatch/internal/cli.Revision=${REVISION} \
        -X github.com/hooklatch/hooklatch/internal/cli.BuildTime=${BUILD_TIME}" \
      -o /rootfs/hooklatch ./cmd/hooklatch \
 && /rootfs/hooklatch version \
 && mkdir -p /rootfs/etc/ssl/certs /rootfs/var/lib/hooklatch /rootfs/tmp \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && echo 'hooklatch:x:65532:65532:hooklatch:/var/lib/hooklatch:/sbin/nologin' > /rootfs/etc/passwd \
 && echo 'hooklatch:x:65532:' > /rootfs/etc/group \
 && chown 65532:65532 /rootfs/var/lib/hooklatch \
 && chmod 0700 /rootfs/var/lib/hooklatch \
 && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=build /rootfs/ /
# A numeric user, so that runtimes that refuse to run as root by name
# (Kubernetes' runAsNonRoot) can tell it is not 0.
USER 65532:65532
# The store, SQLite's file with its write-ahead log; TLS certificates
# obtained automatically are kept here too.
VOLUME /var/lib/hooklatch
WORKDIR /var/lib/hooklatch
ENV HOOKLATCH_STORE=/var/lib/hooklatch/hooklatch.db
# 3000: webhooks. 3001: the admin listener (/healthz, /readyz, /metrics, the
# dashboard). The admin listener stays on the container's loopback unless
# HOOKLATCH_ADMIN_ADDR=:3001 and HOOKLATCH_ADMIN_TOKEN are set (serve
# refuses a non-loopback admin listener without a token).
EXPOSE 3000 3001
# healthcheck asks the admin listener that serve opens with the same
# environment, on the container's loopback.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/hooklatch", "healthcheck"]
ENTRYPOINT ["/hooklatch"]
CMD ["serve"]
