# doctor's image: the portable binary and the few files it needs to start, nothing else.
#
#   scripts/release                  # makes dist/image/ (scripts/image-rootfs)
#   docker build -t doctor .
#   docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock:ro \
#     -v "$PWD:/work" doctor all
#
# --network host: the stack's published ports are on the host's localhost, where doctor looks.
# The socket: the engine doctor inspects (read-only API calls, plus `exec` for the checks
# inside containers; `:ro` on a socket does not restrict the API). /work: the stack's
# directory, for its .env and doctor.toml (doctor reads them from its working directory).
#
# No multi-stage build: the build happens outside (scripts/release: cargo-zigbuild, glibc
# 2.17), so building the image needs no base image from a registry. dist/image/ holds the
# binary plus the glibc loader and libraries it links, the CA bundle and /etc/passwd.
FROM scratch
COPY dist/image/ /
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/doctor"]
CMD ["all"]
