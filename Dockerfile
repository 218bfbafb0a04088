# The sixd container image: one static binary in an empty image.
#
# It pulls no base image: `make docker` builds the binary on the host
# (CGO_ENABLED=0, so it links nothing from the system) into build/docker/
# and builds this file with that directory as the context:
#
#   make docker                      # image sixdomain/sixd:dev
#   docker run --rm sixdomain/sixd:dev version
#
# The node's home (config.toml, node.key, genesis.toml, data/) is the volume
# /home/sixd, owned by the unprivileged user 65532; lay homes out with
# `sixd testnet` and give them to that user (see deploy/compose.yml).
FROM scratch
COPY sixd /sixd
USER 65532:65532
ENV SIXD_HOME=/home/sixd HOME=/home/sixd
VOLUME ["/home/sixd"]
# p2p (TCP and QUIC) and the HTTP API.
EXPOSE 4001/tcp 4001/udp 8645/tcp
HEALTHCHECK --interval=5s --timeout=4s --start-period=30s --retries=3 CMD ["/sixd", "healthcheck"]
ENTRYPOINT ["/sixd"]
CMD ["run"]
