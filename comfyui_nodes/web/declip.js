// DeCLIP frontend extension for ComfyUI, served through the pack's WEB_DIRECTORY. Public frontend APIs only:
// `app.registerExtension` and the node's `addDOMWidget` (no imports of internal modules such as widgets.js).
// 1. Scores on the node: the quality, best-of-N and filter nodes get a read-only text box that shows the
//    `ui.text` their Python returns after each run; the node then grows to fit the whole text, so every
//    score is readable without resizing or scrolling.
// 2. Link colours for the pack's socket types (the same table as comfyui_nodes/socket_types.py).
import { app } from "../../scripts/app.js";

const SCORE_NODES = new Set(["DeCLIPQualityScore", "DeCLIPBestOfN", "DeCLIPQualityFilter"]);
const SCORE_WIDGET = "declip_scores";
const PLACEHOLDER = "Scores appear here after a run.";
const FONT_PX = 12;
const LINE_PX = 16; // line height of the text box
const PAD_PX = 12; // the text box's padding and border, both sides together
const MAX_WIDTH = 760; // px: longer lines wrap (the box grows taller), so that a node does not spread over its neighbours
const WIDGET_MARGIN_PX = 24; // what the editor keeps around a DOM widget, above and below together // wider lines wrap (and the box grows taller)
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

let measureContext = null;
function textWidth(line) {
  measureContext ??= document.createElement("canvas").getContext("2d");
  measureContext.font = `${FONT_PX}px monospace`;
  return measureContext.measureText(line).width;
}

// The box size [width, height] in px that shows `text` whole: its widest line, and its lines after wrapping.
function textBoxSize(text) {
  const lines = (text || PLACEHOLDER).split("\n");
  const widths = lines.map(textWidth);
  const width = Math.min(MAX_WIDTH, Math.ceil(Math.max(...widths)) + PAD_PX + 4);
  const inner = width - PAD_PX - 4;
  const rows = widths.reduce((n, w) => n + Math.max(1, Math.ceil(w / inner)), 0);
  return [width, rows * LINE_PX + PAD_PX + 4];
}

function scoreWidget(node) {
  let widget = node.widgets?.find((w) => w.name === SCORE_WIDGET);
  if (widget) return widget;
  const el = document.createElement("textarea");
  el.readOnly = true;
  el.placeholder = PLACEHOLDER;
  el.dataset.declipScores = "1";
  el.wrap = "soft";
  Object.assign(el.style, {
    fontFamily: "monospace", fontSize: `${FONT_PX}px`, lineHeight: `${LINE_PX}px`, padding: "5px",
    boxSizing: "border-box", width: "100%", height: "100%", resize: "none", overflow: "hidden",
    whiteSpace: "pre-wrap", background: "var(--comfy-input-bg)", color: "var(--input-text)",
    border: "1px solid var(--border-color)", borderRadius: "4px",
  });
  widget = node.addDOMWidget(SCORE_WIDGET, "declip_scores", el, {
    serialize: false, // a display, not an input: never saved into the workflow or sent to the server
    getValue: () => el.value,
    setValue: (v) => { el.value = v ?? ""; },
    getMinHeight: () => textBoxSize(el.value)[1] + WIDGET_MARGIN_PX,
  });
  widget.serialize = false;
  return widget;
}

// Grow the node so that its text box shows the whole text (never shrinks what the user made larger).
function fitToText(node, widget, text) {
  const [w] = textBoxSize(text);
  const width = Math.max(node.size[0], w + 20);
  const needed = node.computeSize([width, node.size[1]]);
  node.setSize([width, Math.max(node.size[1], needed[1])]);
  // The editor lays DOM widgets out on the next frames: grow by whatever the box still cannot show.
  let frames = 0;
  const grow = () => {
    const el = widget.element;
    const hidden = el.scrollHeight - el.clientHeight;
    if (el.offsetParent !== null && hidden > 0) node.setSize([node.size[0], node.size[1] + hidden]);
    node.graph?.setDirtyCanvas?.(true, true);
    if (++frames < 10) requestAnimationFrame(grow);
  };
  requestAnimationFrame(grow);
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
      widget.value = Array.isArray(text) ? text.join("\n\n") : (text ?? "");
      fitToText(this, widget, widget.value);
      this.graph?.setDirtyCanvas?.(true, true);
    };
  },
});
