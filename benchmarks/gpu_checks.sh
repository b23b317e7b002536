#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one script to run on a GPU machine from the repository root:
#
#     bash benchmarks/gpu_checks.sh SHARED OUT
#
# SHARED: the reference folder (reference/fake_weights.py, reference/goldens, media); OUT: where the
# logs and JSON figures go.  Writes the fake checkpoints into $SADTALKER_FAKE_WEIGHTS_DIR (default
# OUT/weights), then
#   1. every golden on CUDA with float32 computed in float32 (conformance's default),
#   2. the face-render goldens again with PyTorch's default TF32 convolutions (--allow-tf32),
#   3. face-render speed and GPU memory per precision at 256 and 512 (render_speed.py, 3 rounds).
set -uo pipefail
shared=$(realpath "$1")
out=$(realpath "$2")
weights=${SADTALKER_FAKE_WEIGHTS_DIR:-$out/weights}
mkdir -p "$weights"
[ -e ../shared ] || ln -s "$shared" ../shared  # where render_speed.py looks for its inputs

python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" | tee "$out/machine.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$out/machine.txt"

start=$(date +%s)
for name in SadTalker_V0.0.2_256.safetensors SadTalker_V0.0.2_512.safetensors mapping_00229-model.pth.tar \
            mapping_00109-model.pth.tar facevid2vid_00189-model.pth.tar auido2exp_00300-model.pth \
            auido2pose_00140-model.pth epoch_20.pth detection_Resnet50_Final.pth alignment_WFLW_4HG.pth; do
  python3 "$shared/reference/fake_weights.py" "$name" "$weights/$name" > /dev/null &
done
wait
echo "fake checkpoints: $(( $(date +%s) - start )) s"

goldens=("$shared"/reference/goldens/*.safetensors)
render=(generator make_animation kp_detector he_estimator keypoint_transformation)
render=("${render[@]/#/$shared/reference/goldens/}")
render=("${render[@]/%/.safetensors}")

start=$(date +%s)
python3 -m conformance --device cuda --weights "$weights" --media "$shared/media" "${goldens[@]}" \
  > "$out/conformance_cuda.log" 2>&1
echo "conformance on cuda: exit $?, $(( $(date +%s) - start )) s; $(tail -n 1 "$out/conformance_cuda.log")"

python3 -m conformance --device cuda --allow-tf32 --weights "$weights" --media "$shared/media" "${render[@]}" \
  > "$out/conformance_cuda_tf32.log" 2>&1
echo "render goldens with TF32: exit $?; $(tail -n 1 "$out/conformance_cuda_tf32.log")"

for size in 256 512; do
  python3 benchmarks/render_speed.py --checkpoints "$weights" --device cuda --size "$size" --frames 64 \
    --batch 16 --rounds 3 --json "$out/render_speed_cuda_$size.json" > "$out/render_speed_cuda_$size.log" 2>&1
  echo "render speed $size: exit $?"
  sed -n '/^Machine/,$p' "$out/render_speed_cuda_$size.log"
done
