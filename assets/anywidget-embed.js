// anywidget-embed.js: shows the page's explorers in the built site, without a kernel.
//
// Every widget of the book is an anywidget: its state, embedded in the page by MyST-NB
// (<script type="application/vnd.jupyter.widget-state+json">), holds the widget's ES module
// (_esm), its style sheet (_css) and its data. This module does for each widget view of the
// page (<script type="application/vnd.jupyter.widget-view+json">) what anywidget's front-end
// does in Jupyter: it adds the style, imports the module and calls its `initialize` and
// `render({ model, el })` with a model that has anywidget's front-end contract (get, set, on,
// off, save_changes, send). There is no kernel, so save_changes and send change nothing
// outside the page. It replaces the ipywidgets embedder (@jupyter-widgets/html-manager),
// which the explorers do not need; JupyterLab still runs them with anywidget itself.
// _ext/offline_widgets.py adds this script only to the pages that hold widget state. It is a
// classic deferred script, not a module script, so that a page opened from disk (file://)
// runs it too (browsers refuse module scripts there); its names stay inside one block.

"use strict"; // functions declared in the block below stay in it
{
  const STATE = 'script[type="application/vnd.jupyter.widget-state+json"]';
  const VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]';

  /** A widget's model: its state and the listeners of its changes, as Backbone calls them. */
  class Model {
    #state;
    #listeners = new Map(); // event name -> Set of callbacks

    constructor(state) {
      this.#state = { ...state };
    }

    get(name) {
      return this.#state[name];
    }

    set(name, value) {
      if (Object.is(this.#state[name], value)) return;
      this.#state[name] = value;
      this.#trigger(`change:${name}`, this, value);
      this.#trigger("change", this);
    }

    on(event, callback) {
      if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
      this.#listeners.get(event).add(callback);
    }

    off(event, callback) {
      if (event == null) this.#listeners.clear();
      else if (callback == null) this.#listeners.delete(event);
      else this.#listeners.get(event)?.delete(callback);
    }

    save_changes() {} // no kernel to send the changes to

    send() {} // no kernel to receive custom messages

    #trigger(event, ...args) {
      for (const callback of [...(this.#listeners.get(event) ?? [])]) callback(...args);
    }
  }

  /** Import a widget's ES module (its source text, or a URL) and return its definition. */
  async function loadWidget(esm) {
    const isUrl = /^https?:\/\//.test(esm);
    const url = isUrl ? esm : URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
    let module;
    try {
      module = await import(url);
    } finally {
      if (!isUrl) URL.revokeObjectURL(url);
    }
    const definition = module.default ?? { render: module.render };
    return typeof definition === "function" ? await definition() : definition;
  }

  function addStyle(css, id) {
    if (!css || document.getElementById(id)) return;
    const style = document.createElement("style");
    style.id = id;
    style.textContent = css;
    document.head.append(style);
  }

  const signal = new AbortController().signal; // the page never takes a widget away
  const widgetState = JSON.parse(document.querySelector(STATE)?.textContent ?? '{"state": {}}').state;
  const ready = new Map(); // model id -> promise of { model, widget }, initialised once

  function initialised(modelId) {
    if (!ready.has(modelId)) {
      ready.set(modelId, (async () => {
        const { state } = widgetState[modelId];
        addStyle(state._css, state._anywidget_id);
        const model = new Model(state);
        const widget = await loadWidget(state._esm);
        await widget.initialize?.({ model, signal });
        return { model, widget };
      })());
    }
    return ready.get(modelId);
  }

  for (const view of document.querySelectorAll(VIEW)) {
    const { model_id: modelId } = JSON.parse(view.textContent);
    if (!widgetState[modelId]?.state?._esm) continue; // not an anywidget: nothing here can show it
    // The same wrapper as the ipywidgets embedder's, which the theme's CSS styles.
    const subarea = Object.assign(document.createElement("div"), { className: "widget-subarea" });
    const el = Object.assign(document.createElement("div"), { className: "jupyter-widgets" });
    subarea.append(el);
    view.before(subarea);
    initialised(modelId).then(({ model, widget }) => widget.render?.({ model, el, signal }));
  }
}
