// DeCLIP frontend extension for ComfyUI, served through the pack's WEB_DIRECTORY.
// 1. Scores on the node: the quality, best-of-N and filter nodes get a read-only text box that shows the
//    `ui.text` their Python returns after each run (the way core "Preview as Text" shows its text).
// 2. Link colours for the pack's socket types (the same table as comfyui_nodes/socket_types.py).
import { app } from "../../scripts/app.js";
import { ComfyWidgets } from "../../scripts/widgets.js";

const SCORE_NODES = new Set(["DeCLIPQualityScore", "DeCLIPBestOfN", "DeCLIPQualityFilter"]);
const SCORE_WIDGET = "declip_scores";
const PLACEHOLDER = "Scores appear here after a run.";
const LINK_COLOURS = {
  DECLIP: "#C678DD",
  DP_ADAPTER: "#E5C07B",
  DECLIP_PERCEPTUAL: "#56B6C2",
  DECLIP_SEMANTIC: "#98C379",
};

function applyLinkColours() {
  const canvasClass = window.LGraphCanvas;
  if (canvasClass?.link_type_colors) Object.assign(canvasClass.link_type_colors, LINK_COLOURS);
  if (app.canvas?.default_connection_color_byType) {
    Object.assign(app.canvas.default_connection_color_byType, LINK_COLOURS);
  }
  app.canvas?.setDirty?.(true, true);
}

function scoreWidget(node) {
  let widget = node.widgets?.find((w) => w.name === SCORE_WIDGET);
  if (!widget) {
    widget = ComfyWidgets.STRING(node, SCORE_WIDGET, ["STRING", { multiline: true }], app).widget;
    widget.serialize = false; // a display, not an input: never saved into the workflow or sent to the server
    widget.options.serialize = false;
    const el = widget.element ?? widget.inputEl;
    if (el) {
      el.readOnly = true;
      el.placeholder = PLACEHOLDER;
      el.dataset.declipScores = "1";
    }
  }
  return widget;
}

app.registerExtension({
  name: "DeCLIP.ScoresAndColours",
  async setup() {
    applyLinkColours();
  },
  async afterConfigureGraph() {
    applyLinkColours(); // a colour palette reload clears unknown types; put ours back
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!SCORE_NODES.has(nodeData.name)) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = onNodeCreated?.apply(this, arguments);
      scoreWidget(this);
      return r;
    };
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const text = message?.text;
      const widget = scoreWidget(this);
      widget.value = Array.isArray(text) ? text.join("\n") : (text ?? "");
      const el = widget.element ?? widget.inputEl;
      if (el) el.value = widget.value;
      this.graph?.setDirtyCanvas?.(true, true);
    };
  },
});
