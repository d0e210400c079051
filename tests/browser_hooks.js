// Helpers that tests/test_browser.py installs in the JupyterLab page (needs --LabApp.expose_app_in_browser).
// They read JupyterLab's own objects (window.jupyterapp): the notebook panel, its cell models, the kernel's
// iopub messages, and the DOM each cell renders. Evaluated once per page; each function returns plain JSON.
(() => {
  if (window.luReady) return;
  const lu = (window.__lu = { watch: [], log: [], codes: {}, samples: {}, done: null, panel: null, timer: null,
                              hooked: null, t0: performance.now() });
  const app = () => window.jupyterapp;
  const now = () => (performance.now() - lu.t0) / 1000;
  const SIZES = { i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, f4: 4, i8: 8, u8: 8, f8: 8 };
  const CONTROLS = ".widget-slider, .widget-dropdown, .widget-checkbox, .widget-text, .widget-textarea, .widget-toggle-buttons";

  // number of plotted points of a plotly `data` list (plain lists, typed arrays or plotly's {dtype, bdata})
  function length(xs) {
    if (!xs) return 0;
    if (xs.bdata !== undefined) return atob(xs.bdata).length / (SIZES[xs.dtype] || 8);
    return xs.length || 0;
  }
  function points(data) {
    let n = 0;
    for (const t of data || []) n += length(t.x !== undefined ? t.x : t.y);
    return n;
  }
  function cells() { return lu.panel ? lu.panel.content.widgets : []; }
  function cellNode(i) { const c = cells()[i]; return c ? c.node : null; }
  function kernel() { const s = lu.panel && lu.panel.sessionContext.session; return s ? s.kernel : null; }
  function drawn(node, name) {
    return Array.from(node.querySelectorAll(".js-plotly-plot")).filter((el) => title(el.layout) === name)
      .map((el) => points(el.data));
  }
  function title(layout) {
    const t = layout && layout.title;
    return t === undefined || t === null ? "" : String(typeof t === "object" ? t.text || "" : t);
  }
  function boxes(node) {
    return Array.from(node.querySelectorAll(".widget-vbox")).filter((b) => b.querySelector(":scope > .widget-output"));
  }

  function onIopub(_, msg) {
    const type = msg.header.msg_type;
    const parent = msg.parent_header && msg.parent_header.msg_id;
    if (type === "execute_input") lu.codes[parent] = msg.content.code;
    if (type === "display_data" || type === "update_display_data") {
      const fig = msg.content.data && msg.content.data["application/vnd.plotly.v1+json"];
      if (fig) lu.log.push({ type, parent, title: title(fig.layout), points: points(fig.data), t: now() });
    }
  }

  window.luWatch = () => {
    lu.log = []; lu.codes = {}; lu.samples = {}; lu.done = null; lu.panel = null;
    if (lu.timer) clearInterval(lu.timer);
    lu.timer = setInterval(() => {           // what the browser actually draws: points per (cell, title)
      if (!lu.panel) return;
      for (const el of lu.panel.content.node.querySelectorAll(".js-plotly-plot")) {
        const cell = el.closest("[data-lu-cell]");
        if (!cell || !el.layout) continue;
        const key = cell.dataset.luCell + "|" + title(el.layout);
        const n = points(el.data);
        const seen = (lu.samples[key] = lu.samples[key] || []);
        if (!seen.length || seen[seen.length - 1] !== n) seen.push(n);
      }
    }, 200);
  };

  window.luReady = (path) => {
    const panel = Array.from(app().shell.widgets("main")).find((w) => w.context && w.context.path === path);
    if (!panel || !panel.context.isReady || !panel.content.widgets.length) return false;
    const session = panel.sessionContext.session;
    if (!session || !session.kernel || session.kernel.status !== "idle") return false;
    if (lu.hooked !== panel) { panel.sessionContext.iopubMessage.connect(onIopub); lu.hooked = panel; }
    lu.panel = panel;
    panel.content.widgets.forEach((c, i) => { c.node.dataset.luCell = String(i); });
    return true;
  };

  window.luRunAll = () => {
    app().shell.activateById(lu.panel.id);
    lu.done = null;
    app().commands.execute("notebook:run-all-cells").then(
      (ok) => { lu.done = { ok: ok === undefined ? null : ok }; },
      (err) => { lu.done = { ok: false, error: String(err) }; });
  };

  const running = (c) => c.model.type === "code" &&
    (c.model.executionState === "running" || /\*/.test((c.promptNode && c.promptNode.textContent) || ""));
  window.luKernelIdle = () => { const k = kernel(); return !!k && k.status === "idle"; };
  window.luState = () => {
    const k = kernel();
    return { done: lu.done !== null, ok: lu.done ? lu.done.ok : null, error: lu.done ? lu.done.error || null : null,
             kernel: k ? k.status : null, idle: window.luKernelIdle(), running: cells().filter(running).length };
  };

  window.luCollect = () => ({
    cells: cells().map((c) => {
      const m = c.model;
      const outs = m.type === "code" ? m.outputs.toJSON() : [];
      return {
        type: m.type, source: m.sharedModel.getSource(),
        execution_count: m.type === "code" ? m.executionCount : null,
        outputs: outs.map((o) => ({
          output_type: o.output_type, name: o.name || null,
          text: Array.isArray(o.text) ? o.text.join("").slice(-4000) : (o.text || "").slice(-4000),
          ename: o.ename || null, evalue: o.evalue || null, traceback: o.traceback || [],
        })),
      };
    }),
  });

  window.luWidgetsRendered = (cellIds) => cellIds.every((i) => { const n = cellNode(i); return n && boxes(n).length > 0; });
  window.luWidgets = (cellIds) => {
    const res = {};
    for (const i of cellIds) {
      const node = cellNode(i);
      const found = node ? boxes(node) : [];
      res[i] = {
        boxes: found.length,
        detail: found.map((b) => {
          const out = b.querySelector(":scope > .widget-output");
          const text = out.innerText.trim();
          return { controls: b.querySelectorAll(CONTROLS).length, output_chars: text.length +
                     100 * out.querySelectorAll(".js-plotly-plot, img, svg, canvas, table").length,
                   warning: text.includes("\u26a0"), text: text.slice(0, 200) };
        }),
        cell_text: found.length ? "" : (node ? node.innerText.slice(0, 400) : "(no cell)"),
      };
    }
    return res;
  };
  window.luNotebookText = () => (lu.panel ? lu.panel.content.node.innerText : "");

  const plain = (k, v) => (k.startsWith("_") ? undefined : ArrayBuffer.isView(v) ? Array.from(v) : v);
  window.luSignature = (i) => {
    const b = boxes(cellNode(i))[0];
    if (!b) return null;
    const out = b.querySelector(":scope > .widget-output");
    const figs = Array.from(out.querySelectorAll(".js-plotly-plot")).map((el) => {
      try { return JSON.stringify([el.data, el.layout], plain); } catch (e) { return el.innerHTML.length; }
    });
    const imgs = Array.from(out.querySelectorAll("img")).map((im) => im.src.length + ":" + im.src.slice(-64));
    return JSON.stringify([out.innerText, figs, imgs]);
  };

  // A live plot: within one cell's execution the kernel sent >= 2 plotly figures with the same title.
  // For each: the points each one carried, what the browser draws in that cell under that title now
  // (one plot holding the last points when the redraws happened in place), and the distinct point
  // counts the 0.2 s sampler saw drawn there.
  window.luLivePlots = () => {
    const res = {};
    cells().forEach((c, i) => {
      if (c.model.type !== "code") return;
      const src = c.model.sharedModel.getSource();
      const parents = Object.keys(lu.codes).filter((p) => lu.codes[p] === src);
      const byTitle = {};
      for (const e of lu.log.filter((e) => parents.includes(e.parent))) (byTitle[e.title] = byTitle[e.title] || []).push(e);
      const live = Object.entries(byTitle).filter(([, es]) => es.length >= 2).map(([name, es]) => ({
        title: name, sent: es.length, updates: es.filter((e) => e.type === "update_display_data").length,
        points: es.map((e) => e.points), seconds: +(es[es.length - 1].t - es[0].t).toFixed(2),
        drawn: drawn(c.node, name), drawn_states: lu.samples[i + "|" + name] || [],
      }));
      if (live.length) res[i] = live;
    });
    return res;
  };

  window.luScrollTo = (cellIds) => {
    const node = cellIds.length ? cellNode(cellIds[0]) : null;
    if (node) node.scrollIntoView({ block: "start" });
    else if (lu.panel) lu.panel.content.node.scrollTop = 0;
  };

  window.luClose = async () => {
    if (lu.timer) clearInterval(lu.timer);
    lu.timer = null;
    const panel = lu.panel;
    lu.panel = null;
    if (!panel) return;
    try { await panel.sessionContext.shutdown(); } catch (e) { /* the server shuts it down too */ }
    panel.context.model.dirty = false;
    panel.dispose();
  };
})();
