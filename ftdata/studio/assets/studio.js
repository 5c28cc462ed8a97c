// ftdata studio: post the editor's content, swap in the server-rendered fragments.
// No framework. One render request in flight at a time; edits made meanwhile are sent
// (once, with the latest text) when it returns, so the page never shows a stale render.
"use strict";
(function () {
  const S = JSON.parse(document.getElementById("studio-state").textContent);
  const $ = (sel) => document.querySelector(sel);
  const $$ = (sel) => Array.from(document.querySelectorAll(sel));
  // timings for bench/studio_latency.py: keystroke (event time) -> fragments in the DOM
  const T = (window.studio = { timings: [], renders: 0, lints: 0, saved: 0, pendingKey: null });

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Studio-Token": S.token },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then((r) => r.json());
  }

  function fields() {
    const out = {};
    $$("[data-field]").forEach((el) => { out[el.dataset.field] = el.value; });
    return out;
  }

  function status(text, bad) {
    const el = $("#status");
    el.textContent = text;
    el.className = bad ? "bad" : "";
  }

  function apply(panels) {
    for (const [id, html] of Object.entries(panels || {})) {
      const el = document.getElementById(id);
      if (el) el.innerHTML = html;
    }
  }

  // -- gutters and inline errors ---------------------------------------------------------------
  let errors = JSON.parse(document.getElementById("studio-errors").textContent || "[]");

  function paintGutter(code) {
    const ta = code.querySelector("textarea");
    const gutter = code.querySelector(".gutter");
    const band = code.querySelector(".band");
    const n = ta.value.split("\n").length;
    const err = errors.find((e) => e.part === code.dataset.part && e.line);
    let html = "";
    for (let i = 1; i <= n; i++) {
      html += (err && err.line === i ? '<span class="err" title="error on this line">' + i + "</span>" : i) + "\n";
    }
    gutter.innerHTML = html;
    gutter.scrollTop = ta.scrollTop;
    code.classList.toggle("has-error", Boolean(errors.find((e) => e.part === code.dataset.part)));
    if (err) {
      band.hidden = false;
      band.style.top = 4 + (err.line - 1) * 18 - ta.scrollTop + "px";
    } else {
      band.hidden = true;
    }
    const box = document.getElementById("err-" + code.dataset.part);
    const mine = errors.filter((e) => e.part === code.dataset.part);
    if (box) box.textContent = mine.map((e) => (e.line ? "line " + e.line + ": " : "") + e.message).join("\n");
  }

  function paintAll() { $$(".code").forEach(paintGutter); }

  // scroll the token view so the prompt/completion boundary is in sight
  function showBoundary() {
    const box = $("#tok-seq");
    const first = box && box.querySelector(".tk.tr");
    if (first) box.scrollTop = Math.max(0, first.offsetTop - box.offsetTop - box.clientHeight / 2);
  }

  $$(".code").forEach((code) => {
    const ta = code.querySelector("textarea");
    ta.addEventListener("scroll", () => paintGutter(code));
    ta.addEventListener("keydown", (ev) => {
      if (ev.key === "Tab" && !ev.shiftKey && !ev.ctrlKey && !ev.altKey) {  // indent instead of leaving the box
        ev.preventDefault();
        document.execCommand("insertText", false, "  ");
      }
    });
  });

  // -- render ----------------------------------------------------------------------------------
  let inFlight = false;
  let queued = null;   // the newest request waiting for the one in flight
  let lintTimer = null;
  let lintSeq = 0;

  function render(extra, stamp) {
    const req = Object.assign({ key: S.key, row: S.row, fields: S.key ? fields() : undefined }, extra || {});
    if (inFlight) {
      queued = { extra, stamp: queued && queued.stamp != null ? queued.stamp : stamp };
      return;
    }
    inFlight = true;
    const sent = performance.now();
    post("/api/render", req).then((res) => {
      inFlight = false;
      if (res.error) {
        status(res.error, true);
      } else {
        S.row = res.row;
        errors = res.errors || [];
        apply(res.panels);
        paintAll();
        showBoundary();
        T.renders += 1;
        const done = performance.now();
        if (stamp != null) T.timings.push({ keystroke_to_dom_ms: done - stamp, request_ms: done - sent });
        document.body.dataset.renders = String(T.renders);
      }
      if (queued) {
        const q = queued;
        queued = null;
        render(q.extra, q.stamp);
      }
    }).catch((e) => { inFlight = false; status("request failed: " + e, true); });
  }

  function lintSoon() {
    clearTimeout(lintTimer);
    $("#lint-state").textContent = "(checking…)";
    $("#lint").classList.add("stale");
    lintTimer = setTimeout(() => {
      const mine = ++lintSeq;
      post("/api/lint", { key: S.key, fields: fields() }).then((res) => {
        if (mine !== lintSeq) return;  // a newer check is under way
        if (res.error) return status(res.error, true);
        apply(res.panels);
        T.lints += 1;
        $("#lint-state").textContent = "";
        $("#lint").classList.remove("stale");
        document.body.dataset.lints = String(T.lints);
      });
    }, 250);
  }

  $$("[data-field]").forEach((el) => {
    el.addEventListener("input", (ev) => {
      if (el.tagName === "TEXTAREA") paintGutter(el.closest(".code"));
      render(null, ev.timeStamp);
      lintSoon();
    });
  });

  // -- rows ------------------------------------------------------------------------------------
  $$("[data-nav]").forEach((b) => b.addEventListener("click", () => render({ nav: b.dataset.nav })));
  $("#jump").addEventListener("submit", (ev) => {
    ev.preventDefault();
    render({ nav: "jump", jump: $("#jump-key").value });
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.altKey && ev.key === "ArrowRight") render({ nav: "next" });
    if (ev.altKey && ev.key === "ArrowLeft") render({ nav: "prev" });
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "s") { ev.preventDefault(); save(); }
  });

  // -- new and save ----------------------------------------------------------------------------
  $("#new").addEventListener("click", () => {
    post("/api/new", {}).then((res) => {
      if (res.error) return status(res.error, true);
      window.location.assign(res.url + "&row=" + S.row);
    });
  });

  // keep the row when switching templates
  document.getElementById("list").addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-key]");
    if (a) { ev.preventDefault(); window.location.assign(a.getAttribute("href") + "&row=" + S.row); }
  });

  function save() {
    status("saving…");
    post("/api/save", { key: S.key, fields: S.key ? fields() : undefined }).then((res) => {
      if (res.error) return status(res.error, true);
      apply(res.panels);
      T.saved += 1;
      status(res.message);
      document.body.dataset.saved = String(T.saved);
    });
  }
  $("#save").addEventListener("click", save);

  paintAll();
  showBoundary();
})();
