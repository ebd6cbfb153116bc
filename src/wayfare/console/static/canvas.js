// The journey canvas: draws the graph of <script type="application/json" id="canvas-graph">
// ({nodes: [{id, type, label, summary}], edges: [{from, to, label}], problems: {id: [...]}})
// as SVG inside <div id="canvas">, laid out left to right by dagre, then keeps each node's
// counts live by fetching the URL of the div's data-counts (answer: {counts: {id: {entered,
// inError, discarded, waiting}}, follow: {passed: [], failed: [], at: id} or null}) every
// data-refresh seconds. Nothing is laid out by hand: dagre places nodes, edges and labels.
// A followed person (the page's ?identity=) is in the counts URL the page gives.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var NODE_W = 210, NODE_H = 98, LABEL_CHARS = 22, MIN_SCALE = 0.7;
  var COUNTS = [["entered", "entered"], ["waiting", "waiting"], ["inError", "in error"], ["discarded", "discarded"]];

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function text(parent, x, y, cls, value) {
    var t = el("text", { x: x, y: y, "class": cls }, parent);
    t.textContent = value;
    return t;
  }

  // what a screen reader says of a node: its type, id, summary, problems and counts
  function describe(n, found, counts) {
    var words = n.type + " " + n.label + (n.summary ? ", " + n.summary : "");
    found.forEach(function (p) { words += ". Problem" + (p.field ? " in " + p.field : "") + ": " + p.message; });
    COUNTS.forEach(function (c) {
      if (counts[c[0]] !== undefined) { words += ", " + c[1] + " " + counts[c[0]]; }
    });
    return words;
  }

  function layout(graph) {
    var g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "LR", nodesep: 28, ranksep: 70, edgesep: 14, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(function () { return {}; });
    graph.nodes.forEach(function (n) { g.setNode(n.id, { width: NODE_W, height: NODE_H }); });
    graph.edges.forEach(function (e, i) {
      var w = e.label ? Math.max(24, e.label.length * 7 + 10) : 0;
      g.setEdge(e.from, e.to, { label: e.label, width: w, height: e.label ? 18 : 0, labelpos: "c" }, "e" + i);
    });
    dagre.layout(g);
    return g;
  }

  function draw(container, graph) {
    var g = layout(graph);
    var size = g.graph();
    // a graph a little wider than the page is shrunk to fit it; a much wider one scrolls
    var fit = Math.min(1, (container.clientWidth - 2) / size.width);
    var scale = fit >= MIN_SCALE ? fit : 1;
    var svg = el("svg", {
      width: Math.floor(size.width * scale), height: Math.ceil(size.height * scale),
      viewBox: "0 0 " + Math.ceil(size.width) + " " + Math.ceil(size.height),
      role: "group", "aria-label": "Canvas of journey " + graph.journey,
    });
    var defs = el("defs", {}, svg);
    var marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", "class": "arrowhead" }, marker);
    graph.edges.forEach(function (e, i) {
      var edge = g.edge(e.from, e.to, "e" + i);
      var d = edge.points.map(function (p, k) { return (k ? "L" : "M") + p.x + " " + p.y; }).join(" ");
      var kind = e.label === "error" || e.label === "timeout" ? " " + e.label + "-path" : "";
      var group = el("g", { "class": "edge" + kind, "data-from": e.from, "data-to": e.to }, svg);
      el("path", { d: d, "marker-end": "url(#arrow)" }, group);
      if (e.label) {
        el("rect", { x: edge.x - edge.width / 2, y: edge.y - 9, width: edge.width, height: 18, rx: 4, "class": "edge-label-bg" }, group);
        text(group, edge.x, edge.y + 4, "edge-label", e.label);
      }
    });
    var problems = graph.problems || {};
    graph.nodes.forEach(function (n) {
      var box = g.node(n.id);
      var x = box.x - NODE_W / 2, y = box.y - NODE_H / 2;
      var found = problems[n.id] || [];
      var group = el("g", {
        "class": "node type-" + n.type + (found.length ? " has-problem" : ""),
        "data-node": n.id, transform: "translate(" + x + "," + y + ")", tabindex: "0",
        role: "img", "aria-label": describe(n, found, {}),
      }, svg);
      var line = (graph.lines || {})[n.id];
      if (line && document.getElementById("definition")) { group.setAttribute("data-line", line); }
      var title = el("title", {}, group);
      title.textContent = n.type + " " + n.label + (n.summary ? ": " + n.summary : "") +
        found.map(function (p) { return "\n" + (p.field ? p.field + ": " : "") + p.message; }).join("");
      el("rect", { width: NODE_W, height: NODE_H, rx: 8, "class": "node-box" }, group);
      text(group, 10, 16, "node-type", n.type);
      text(group, 10, 34, "node-label", n.label.length > LABEL_CHARS ? n.label.slice(0, LABEL_CHARS - 1) + "…" : n.label);
      text(group, 10, 51, "node-summary", n.summary || "");
      var counts = el("text", { x: 10, y: 70, "class": "node-counts" }, group);
      COUNTS.forEach(function (c, k) {
        var span = el("tspan", k === 2 ? { "data-count": c[0], x: 10, dy: 16 } : { "data-count": c[0] }, counts);
        span.textContent = (k % 2 ? " · " : "") + c[1] + " ";
        var value = el("tspan", { "class": "count-value" }, span);
        value.textContent = "…";
      });
      if (found.length) {
        text(group, NODE_W - 10, 16, "node-problem", "⚠ " + found.length);
      }
    });
    container.replaceChildren(svg);
    return svg;
  }

  function show(svg, graph, answer) {
    var counts = answer.counts || {};
    var problems = graph.problems || {};
    graph.nodes.forEach(function (n) {
      var node = svg.querySelector('g.node[data-node="' + CSS.escape(n.id) + '"]');
      if (node) { node.setAttribute("aria-label", describe(n, problems[n.id] || [], counts[n.id] || {})); }
    });
    svg.querySelectorAll("g.node").forEach(function (node) {
      var mine = counts[node.getAttribute("data-node")] || {};
      node.querySelectorAll("tspan[data-count]").forEach(function (span) {
        var value = mine[span.getAttribute("data-count")];
        span.lastChild.textContent = value === undefined ? "0" : String(value);
      });
    });
    var follow = answer.follow;
    svg.querySelectorAll("g.node").forEach(function (node) {
      var id = node.getAttribute("data-node");
      node.classList.toggle("passed", !!follow && follow.passed.indexOf(id) >= 0);
      node.classList.toggle("failed", !!follow && follow.failed.indexOf(id) >= 0);
      node.classList.toggle("here", !!follow && follow.at === id);
    });
    svg.querySelectorAll("g.edge").forEach(function (edge) {
      var on = !!follow && follow.passed.indexOf(edge.getAttribute("data-from")) >= 0 &&
        (follow.passed.indexOf(edge.getAttribute("data-to")) >= 0 || follow.at === edge.getAttribute("data-to"));
      edge.classList.toggle("passed", on);
    });
  }

  function start() {
    var container = document.getElementById("canvas");
    var source = document.getElementById("canvas-graph");
    if (!container || !source || typeof dagre === "undefined") { return; }
    var graph = JSON.parse(source.textContent);
    var svg = draw(container, graph);
    var marked = svg.querySelector("g.node.has-problem");
    if (marked) {  // the first activity with a problem in view
      var box = marked.getBBox(), at = marked.transform.baseVal.consolidate().matrix;
      container.scrollLeft = Math.max(0, at.e + box.width / 2 - container.clientWidth / 2);
      container.scrollTop = Math.max(0, at.f + box.height / 2 - container.clientHeight / 2);
    }
    var refresh = Number(container.getAttribute("data-refresh") || "3") * 1000;
    var status = document.getElementById("canvas-status");
    function poll() {
      var url = container.getAttribute("data-counts"), asked = Date.now();
      fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (answer) {
          show(svg, graph, answer);
          container.setAttribute("data-updated", String(Date.now()));
          if (status) { status.textContent = "Counts as of " + new Date().toLocaleTimeString(); }
        })
        .catch(function (err) { if (status) { status.textContent = "Counts not refreshed: " + err.message; } })
        .then(function () {
          // a journey with very many people inside takes the server a while to count:
          // ask at most a fifth of the time, so that open pages do not keep it busy
          setTimeout(poll, Math.max(refresh, (Date.now() - asked) * 5));
        });
    }
    poll();
  }

  // the editor: select line N (from 1) of the definition
  function selectLine(n) {
    var area = document.getElementById("definition");
    if (!area) { return; }
    var lines = area.value.split("\n");
    var line = Math.max(1, Math.min(n, lines.length)) - 1;
    var from = lines.slice(0, line).reduce(function (sum, l) { return sum + l.length + 1; }, 0);
    area.focus();
    area.setSelectionRange(from, from + lines[line].length);
    var height = area.scrollHeight / Math.max(lines.length, 1);
    area.scrollTop = Math.max(0, line * height - area.clientHeight / 3);
  }
  // a problem's "line N" button, or a node of the editor's canvas (click or Enter)
  function lineOf(target) {
    var button = target.closest ? target.closest("button[data-line]") : null;
    if (button) { return Number(button.getAttribute("data-line")); }
    var node = target.closest ? target.closest("g.node[data-line]") : null;
    return node ? Number(node.getAttribute("data-line")) : 0;
  }
  document.addEventListener("click", function (event) {
    var line = lineOf(event.target);
    if (line) { selectLine(line); }
  });
  document.addEventListener("keydown", function (event) {
    var line = event.key === "Enter" && event.target.matches && event.target.matches("g.node") ? lineOf(event.target) : 0;
    if (line) { event.preventDefault(); selectLine(line); }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
