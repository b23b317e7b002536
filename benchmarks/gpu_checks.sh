#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one script to run on a GPU machine from the repository root:
#
#     bash benchmarks/gpu_checks.sh OUT
#
# OUT: where the logs and JSON figures go.  Writes the fake checkpoints (conformance/fake_weights.py)
# into $SADTALKER_FAKE_WEIGHTS_DIR (default OUT/weights), then, on the repository's goldens (tests/data)
#   1. every golden on CUDA with float32 computed in float32 (conformance's default),
#   2. the face-render goldens again with PyTorch's default TF32 convolutions (--allow-tf32),
#   3. face-render speed and GPU memory per precision at 256 and 512 (render_speed.py, 3 rounds),
#   4. the paste-back chain on CUDA tensors against OpenCV on the CPU (paste_back.py: time per frame,
#      and the largest difference from the OpenCV pictures, which must be at most 1).
set -uo pipefail
out=$(realpath "$1")
data=tests/data
weights=${SADTALKER_FAKE_WEIGHTS_DIR:-$out/weights}
mkdir -p "$weights"

python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" | tee "$out/machine.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$out/machine.txt"

start=$(date +%s)
python3 -m conformance.fake_weights "$weights" > /dev/null
python3 -m conformance.fake_weights "$weights" SadTalker_V0.0.2_512.safetensors > /dev/null
echo "fake checkpoints: $(( $(date +%s) - start )) s"

goldens=("$data"/goldens/*.safetensors)
render=(generator make_animation kp_detector he_estimator keypoint_transformation)
render=("${render[@]/#/$data/goldens/}")
render=("${render[@]/%/.safetensors}")

start=$(date +%s)
python3 -m conformance --device cuda --weights "$weights" --media "$data/media" "${goldens[@]}" \
  > "$out/conformance_cuda.log" 2>&1
echo "conformance on cuda: exit $?, $(( $(date +%s) - start )) s; $(tail -n 1 "$out/conformance_cuda.log")"

python3 -m conformance --device cuda --allow-tf32 --weights "$weights" --media "$data/media" "${render[@]}" \
  > "$out/conformance_cuda_tf32.log" 2>&1
echo "render goldens with TF32: exit $?; $(tail -n 1 "$out/conformance_cuda_tf32.log")"

for size in 256 512; do
  python3 benchmarks/render_speed.py --checkpoints "$weights" --device cuda --size "$size" --frames 64 \
    --batch 16 --rounds 3 --json "$out/render_speed_cuda_$size.json" > "$out/render_speed_cuda_$size.log" 2>&1
  echo "render speed $size: exit $?"
  sed -n '/^Machine/,$p' "$out/render_speed_cuda_$size.log"
done
python3 benchmarks/paste_back.py --device cuda --frames 16 --rounds 3 --json "$out/paste_back_cuda.json" \
  > "$out/paste_back_cuda.log" 2>&1
echo "paste-back on cuda: exit $?"
cat "$out/paste_back_cuda.log"
