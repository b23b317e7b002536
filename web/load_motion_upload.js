// Load motion (SadTalkerLoadMotion): a button that uploads a motion file (.safetensors, .npz, .mat)
// into ComfyUI/input through ComfyUI's own upload route, the one Load Image and Load Video use, and
// selects it. The front end has upload widgets for pictures, videos and sounds only.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const NODE = "SadTalkerLoadMotion";
const ACCEPT = ".safetensors,.npz,.mat";

async function uploadToInput(file) {
    const body = new FormData();
    body.append("image", file); // the route's field name, whatever the file holds
    body.append("type", "input");
    const response = await api.fetchApi("/upload/image", { method: "POST", body });
    if (response.status !== 200) {
        throw new Error(`${response.status} ${response.statusText}`);
    }
    const { name, subfolder } = await response.json();
    return subfolder ? `${subfolder}/${name}` : name;
}

app.registerExtension({
    name: "SadTalker.LoadMotionUpload",
    nodeCreated(node) {
        if (node.comfyClass !== NODE) return;
        const files = node.widgets?.find((widget) => widget.name === "motion_file");
        if (!files || node.widgets.some((widget) => widget.type === "button")) return;

        const picker = Object.assign(document.createElement("input"), { type: "file", accept: ACCEPT });
        picker.style.display = "none";
        document.body.append(picker);
        picker.onchange = async () => {
            const file = picker.files?.[0];
            picker.value = "";
            if (!file) return;
            try {
                const path = await uploadToInput(file);
                if (!files.options.values.includes(path)) files.options.values.push(path);
                files.value = path;
                files.callback?.(path);
            } catch (error) {
                alert(`Load motion: uploading ${file.name} failed (${error.message})`);
            }
        };
        const button = node.addWidget("button", "upload", null, () => picker.click());
        button.label = "choose motion file to upload";
        button.serialize = false; // saved workflows keep only the file name

        const onRemoved = node.onRemoved;
        node.onRemoved = function () {
            picker.remove();
            return onRemoved?.apply(this, arguments);
        };
    },
});
