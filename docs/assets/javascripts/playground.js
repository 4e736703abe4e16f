// The playground (docs/playground.md): order #1001's events in an editor, folded in the browser by
// the design's own Python modules under Pyodide, validated by ajv against the design's own schemas.
// The runtime loads on the first Run, never with the page. Everything is fetched from this site.
(function () {
  "use strict";

  const script = document.currentScript;
  const root = new URL("../../", script.src); // this file is assets/javascripts/playground.js
  const at = (path) => new URL(path, root).href;
  const $ = (id) => document.getElementById(id);

  const editor = $("playground-events");
  const snapshotEditor = $("playground-snapshot");
  const snapshotBox = $("playground-snapshot-box");
  const runButton = $("playground-run");
  const resetButton = $("playground-reset");
  const variantsBox = $("playground-variants");
  const lesson = $("playground-lesson");
  const statusLine = $("playground-status");
  const result = $("playground-result");

  let data = null; // playground.json: events, variants, modules, schemas
  let runtime = null; // a promise of {derivation, validate}, made on the first run

  function say(text, busy) {
    statusLine.textContent = text;
    result.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    for (const child of children || []) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function show(nodes) {
    result.replaceChildren(...nodes);
  }

  function loadScript(url) {
    return new Promise((resolve, reject) => {
      const tag = element("script", { src: url });
      tag.onload = resolve;
      tag.onerror = () => reject(new Error("could not load " + url));
      document.head.append(tag);
    });
  }

  async function fetchText(path) {
    const response = await fetch(at(path));
    if (!response.ok) throw new Error("could not load " + path + " (HTTP " + response.status + ")");
    return response.text();
  }

  // --- the runtime: Pyodide with the project's modules, and ajv with the project's schemas ------

  async function loadPython() {
    await loadScript(at("assets/vendor/pyodide/pyodide.js"));
    const pyodide = await window.loadPyodide({ indexURL: at("assets/vendor/pyodide/") });
    const folder = "/home/pyodide/order_service";
    for (const module of data.modules) {
      pyodide.FS.mkdirTree((folder + "/" + module).replace(/\/[^/]*$/, ""));
      const source = await fetchText("assets/playground/order_service/" + module);
      pyodide.FS.writeFile(folder + "/" + module, source);
    }
    pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide')");
    return pyodide.pyimport("order_service.model.derivation");
  }

  async function loadValidator() {
    await loadScript(at("assets/vendor/ajv/ajv2020.min.js"));
    await loadScript(at("assets/vendor/ajv/ajv-formats.js"));
    const Ajv2020 = window.ajv2020.default || window.ajv2020;
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    // What ajv-formats' addFormats(ajv) does in its default ("full") mode.
    for (const [name, format] of Object.entries(window.ajvFormats.fullFormats)) {
      ajv.addFormat(name, format);
    }
    for (const name of data.schemas) {
      ajv.addSchema(JSON.parse(await fetchText("assets/playground/schemas/" + name)));
    }
    return ajv.getSchema(data.any_event_schema);
  }

  function loadRuntime() {
    if (!runtime) {
      runtime = Promise.all([loadPython(), loadValidator()]).then(([derivation, validate]) => ({
        derivation,
        validate,
      }));
      runtime.catch(() => {
        runtime = null; // a failed load can be retried with the next click
      });
    }
    return runtime;
  }

  // --- validation problems, worded as `orders validate` words them ------------------------------

  const escapePointer = (name) => String(name).replace(/~/g, "~0").replace(/\//g, "~1");

  function problems(errors) {
    const found = new Map();
    for (const error of errors || []) {
      let pointer = error.instancePath;
      let reason = error.message;
      if (error.keyword === "if") continue; // ajv's echo of a failed "then", reported below it
      if (error.keyword === "required") {
        pointer += "/" + escapePointer(error.params.missingProperty);
        reason = "required property is missing";
      } else if (error.keyword === "additionalProperties") {
        pointer += "/" + escapePointer(error.params.additionalProperty);
        reason = "property not allowed";
      }
      found.set(pointer + "\u0000" + reason, { pointer: pointer || "/", reason });
    }
    return [...found.values()].sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer));
  }

  function label(event, index) {
    const id = event && typeof event === "object" ? event.event_id : undefined;
    return typeof id === "string" && id ? id : String(index);
  }

  // --- rendering -----------------------------------------------------------------------------

  function row(step) {
    const state = step.state;
    const lines = state.lines.map((line) => line.sku + " \u00d7 " + line.quantity).join(", ");
    const cells = [
      String(state.version),
      step.event_type,
      state.status,
      state.total.amount + " " + state.total.currency,
      lines,
      state.payment_id || "",
      state.tracking_number || "",
    ];
    return element(
      "tr",
      {},
      cells.map((text, index) => element(index === 0 ? "th" : "td", index === 0 ? { scope: "row" } : {}, [text])),
    );
  }

  function stepTable(steps, caption) {
    const heads = ["Version", "Event", "status", "total", "lines", "payment_id", "tracking_number"];
    const table = element("table", { id: "playground-steps", class: "playground-table" }, [
      element("caption", {}, [caption]),
      element("thead", {}, [element("tr", {}, heads.map((h) => element("th", { scope: "col" }, [h])))]),
      element("tbody", {}, steps.map(row)),
    ]);
    // A wide table scrolls inside its own box on a phone; the box takes focus to scroll by keys.
    return element("div", { class: "playground-scroll", tabindex: "0", role: "region", "aria-label": caption }, [table]);
  }

  function showReport(report, snapshotVersion) {
    const nodes = [];
    if (report.refusal) {
      // The lines `orders derive` prints on standard error, without the file name.
      nodes.push(element("p", { class: "playground-verdict playground-refused" }, ["Refused:"]));
      nodes.push(element("pre", { id: "playground-refusal", tabindex: "0" }, [report.refusal.join("\n")]));
    } else {
      nodes.push(element("p", { class: "playground-verdict playground-derived" }, [
        "Derived: " + report.state.status + " at version " + report.state.version + ".",
      ]));
    }
    if (report.steps.length) {
      const from = snapshotVersion ? ", resumed from the snapshot at version " + snapshotVersion : "";
      const upto = report.refusal ? "The state after each event before the refused one" : "The state after each event";
      nodes.push(stepTable(report.steps, upto + from));
    }
    if (report.printed) {
      nodes.push(element("p", {}, ["The state, as ", element("code", {}, ["orders derive"]), " prints it:"]));
      nodes.push(element("pre", { id: "playground-state", tabindex: "0" }, [element("code", {}, [report.printed])]));
    }
    if (report.lint) {
      // The history lint `orders derive` prints on standard error beside the state, without the file name.
      nodes.push(element("p", { class: "playground-verdict playground-refused" }, [
        "History lint: events that today's rules would refuse as commands (the state above folds them as stored):",
      ]));
      nodes.push(element("pre", { id: "playground-lint", tabindex: "0" }, [report.lint.join("\n")]));
    }
    show(nodes);
  }

  function showProblems(lines) {
    show([
      element("p", { class: "playground-verdict playground-refused" }, ["Invalid payloads: nothing derived."]),
      element("ul", { id: "playground-problems" }, lines.map((line) => element("li", {}, [element("code", {}, [line])]))),
    ]);
  }

  function showError(text) {
    show([
      element("p", { class: "playground-verdict playground-refused" }, ["Not run."]),
      element("p", { id: "playground-error" }, [text]),
    ]);
  }

  // --- running -------------------------------------------------------------------------------

  function setBusy(busy) {
    runButton.disabled = busy;
    resetButton.disabled = busy;
    for (const button of variantsBox.querySelectorAll("button")) button.disabled = busy;
  }

  async function run() {
    setBusy(true);
    const started = performance.now();
    try {
      if (!runtime) say("Loading Python (Pyodide, about 12 MB, from this site; first run only)\u2026", true);
      const { derivation, validate } = await loadRuntime();
      say("Running\u2026", true);
      const snapshotText = snapshotEditor.value.trim(); // used whether its box is open or not
      const input = derivation.read_input(editor.value, snapshotText || null);
      try {
        const error = input.get("error");
        if (error) {
          showError(error);
          return;
        }
        const events = input.get("events");
        const lines = [];
        input.get("for_schema").toJs({ dict_converter: Object.fromEntries }).forEach((event, index) => {
          if (!validate(event)) {
            for (const problem of problems(validate.errors)) {
              lines.push("event " + label(event, index) + ": " + problem.pointer + ": " + problem.reason);
            }
          }
        });
        if (lines.length) {
          showProblems(lines);
          return;
        }
        const snapshot = input.get("snapshot");
        const report = derivation.report(events, snapshot);
        try {
          const plain = report.toJs({ dict_converter: Object.fromEntries });
          const snapshotData = snapshot ? snapshot.toJs({ dict_converter: Object.fromEntries }) : null;
          showReport(plain, snapshotData && snapshotData.version);
        } finally {
          report.destroy();
        }
      } finally {
        input.destroy();
      }
    } catch (error) {
      showError("The playground could not run: " + (error && error.message ? error.message : error));
    } finally {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      say("Done in " + seconds + " s.", false);
      result.dataset.runs = String(Number(result.dataset.runs || 0) + 1);
      setBusy(false);
    }
  }

  function fill(events, snapshot, text) {
    editor.value = JSON.stringify(events, null, 2);
    snapshotEditor.value = snapshot ? JSON.stringify(snapshot, null, 2) : "";
    snapshotBox.open = Boolean(snapshot);
    lesson.textContent = text || "";
  }

  async function start() {
    if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
      runButton.disabled = true;
      say("This browser cannot run WebAssembly, so Python cannot run in this page. " +
        "Run the same check on your machine with `orders derive` (see Run the design).", false);
      return;
    }
    try {
      data = JSON.parse(await fetchText("assets/playground/playground.json"));
    } catch (error) {
      runButton.disabled = true;
      say("The playground's data could not be loaded: " + error.message, false);
      return;
    }
    fill(data.events, null, "");
    resetButton.addEventListener("click", () => fill(data.events, null, ""));
    for (const variant of data.variants) {
      const button = element("button", { type: "button", class: "playground-button", "data-variant": variant.id }, [variant.label]);
      button.addEventListener("click", () => {
        fill(variant.events, variant.snapshot, variant.lesson);
        run();
      });
      variantsBox.append(button);
    }
    runButton.addEventListener("click", run);
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        run();
      }
    });
    runButton.disabled = false;
    say("Ready: press Run (or Ctrl+Enter in the editor).", false);
  }

  start();
})();
