# attnrt on NVIDIA boxes.
#   docker build -t attnrt .
#   docker run --rm --gpus all attnrt run                      # built-in model
#   docker run --rm --gpus all -v /models:/models attnrt run --model /models/llama --prompt "Hello"
#
# CUDA 12.x devel: JCuda/JCublas 12.6 load libcublas.so.12, and the PTX compiled here must come from a
# toolkit no newer than the driver that JIT-compiles it (any driver >= 560 for 12.6).
FROM nvidia/cuda:12.6.3-devel-ubuntu22.04

# fontconfig + DejaVu: the headless JRE draws the text of `attnrt bench`'s PNG charts with them (without any
# font the charts are skipped with a warning).
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven binutils fontconfig fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/attnrt
# Dependencies first so source edits don't refetch them.
COPY pom.xml ./
RUN mvn -B -q dependency:go-offline

COPY . .
# PTX for sm_80 by default; the driver JIT-compiles it for newer GPUs. Override: --build-arg CUDA_ARCH=sm_90
ARG CUDA_ARCH=sm_80
RUN mvn -B -q package -DskipTests -Dcuda.arch=${CUDA_ARCH} \
 && jar tf target/attnrt.jar | grep -q '^ptx/.*\.ptx$'

ENTRYPOINT ["/opt/attnrt/scripts/attnrt"]
CMD ["--help"]
