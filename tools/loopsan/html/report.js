// loopsan's HTML report. Every string from the report reaches the page through textContent or
// the canvas's fillText, never as markup.
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("loopsan-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };

  var ROLE_ORDER = { main: 0, loop: 1, pool: 2, other: 3 };
  var ROLE_COLOR = { main: "#2186eb", loop: "#de911d", pool: "#27ab83", other: "#9aa5b1" };
  var EVENT_STYLE = {
    busy: { color: "#f7c948", label: "loop busy", row: 0 },
    block: { color: "#d64545", label: "blocking call", row: 1 },
    queue: { color: "#9fb3c8", label: "queue wait", row: 1 },
    task: { color: "#3ebd93", label: "pool task", row: 0 },
    gil: { color: "#8662c7", label: "GIL wait", row: 1 }
  };
  var INSTANT_LABEL = { loop: "loop started", loop_end: "loop ended", start: "thread started",
                        exit: "thread exited" };
  var KIND_COLORS = ["#cf1124", "#0b69a3", "#7a0ecc", "#1f2933", "#c65d21", "#0e7c86", "#a3007d",
                     "#7c5e10", "#2d3a8c", "#5c940d", "#e12d39", "#127fbf"];

  // --- Data -------------------------------------------------------------------------------
  var runs = data.runs || [], codes = data.codes || [], strings = data.strings || [];
  var findings = data.findings || [], markers = data.markers || [];
  var lanes = (data.lanes || []).map(function (l, i) {
    return { index: i, run: l.run, tid: l.tid, name: String(l.name || ""), role: l.role || "other",
             ev: l.ev || [], markers: [] };
  });
  var kinds = [], kindIndex = {};
  findings.forEach(function (f, i) {
    f.index = i;
    if (!(f.kind in kindIndex)) { kindIndex[f.kind] = kinds.length; kinds.push(f.kind); }
    f.markers = [];
  });
  kinds.sort();
  kinds.forEach(function (k, i) { kindIndex[k] = i; });
  var kindColor = function (k) { return KIND_COLORS[kindIndex[k] % KIND_COLORS.length]; };
  markers = markers.map(function (m) {
    var mk = { lane: m[0], t: +m[1], dur: +m[2], finding: m[3] };
    if (lanes[mk.lane]) lanes[mk.lane].markers.push(mk);
    if (findings[mk.finding]) findings[mk.finding].markers.push(mk);
    return mk;
  });
  var tMax = 1;
  lanes.forEach(function (l) {
    l.ev.sort(function (a, b) { return a[1] - b[1]; });
    l.ev.forEach(function (e) { tMax = Math.max(tMax, e[1] + e[2]); });
    l.markers.sort(function (a, b) { return a.t - b.t; });
  });
  markers.forEach(function (m) { tMax = Math.max(tMax, m.t); });
  runs.forEach(function (r) { if (r.duration_ms > 0) tMax = Math.max(tMax, r.duration_ms); });
  tMax *= 1.02;
  var roleRank = function (role) { return role in ROLE_ORDER ? ROLE_ORDER[role] : 3; };
  var order = lanes.slice().sort(function (a, b) {
    return a.run - b.run || roleRank(a.role) - roleRank(b.role) || a.tid - b.tid;
  });
  order.forEach(function (l, row) { l.row = row; });

  // --- Header -------------------------------------------------------------------------------
  var occurrences = findings.reduce(function (n, f) { return n + (f.occ || 1); }, 0);
  var withTimeline = runs.filter(function (r) { return r.timeline; }).length;
  var dropped = runs.reduce(function (n, r) { return n + (r.dropped || 0); }, 0);
  $("summary").textContent = findings.length + " distinct finding" + (findings.length === 1 ? "" : "s") +
    " (" + occurrences + " occurrences) in " + runs.length + " report" + (runs.length === 1 ? "" : "s") +
    "; " + lanes.length + " threads" +
    (withTimeline ? "" : "; no timeline recorded (run with LOOPSAN_OPTIONS=timeline=1)") +
    (dropped ? "; " + dropped + " timeline events dropped" : "");
  Object.keys(EVENT_STYLE).forEach(function (c) {
    var s = el("span"), i = el("i");
    i.style.background = EVENT_STYLE[c].color;
    s.appendChild(i);
    s.appendChild(document.createTextNode(EVENT_STYLE[c].label));
    $("legend").appendChild(s);
  });
  var fs = el("span"), fi = el("i");
  fi.style.background = "#cf1124";
  fi.style.transform = "rotate(45deg) scale(.8)";
  fs.appendChild(fi);
  fs.appendChild(document.createTextNode("finding"));
  $("legend").appendChild(fs);

  // --- Timeline -----------------------------------------------------------------------------
  var canvas = $("timeline"), ctx = canvas.getContext("2d");
  var LABEL_W = 220, LANE_H = 20, AXIS_H = 22, PAD_R = 10;
  var view = { t0: 0, t1: tMax };
  var selected = -1, cssW = 0, cssH = 0;

  function plotW() { return Math.max(50, cssW - LABEL_W - PAD_R); }
  function xOf(t) { return LABEL_W + (t - view.t0) / (view.t1 - view.t0) * plotW(); }
  function tOf(x) { return view.t0 + (x - LABEL_W) / plotW() * (view.t1 - view.t0); }
  function yOf(row) { return AXIS_H + row * LANE_H; }

  function resize() {
    var dpr = window.devicePixelRatio || 1;
    cssW = canvas.parentNode.clientWidth || 800;
    cssH = AXIS_H + Math.max(1, order.length) * LANE_H + 4;
    canvas.style.height = cssH + "px";
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    draw();
  }

  function fmtMs(ms) {
    if (ms >= 10000) return (ms / 1000).toFixed(1) + " s";
    if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
    if (ms >= 10) return ms.toFixed(0) + " ms";
    return ms.toFixed(2) + " ms";
  }

  function clipText(text, width) {
    if (ctx.measureText(text).width <= width) return text;
    var lo = 0, hi = Math.min(text.length, 200);
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, mid) + "\u2026").width <= width) lo = mid; else hi = mid - 1;
    }
    return text.slice(0, lo) + "\u2026";
  }

  function laneLabel(l) {
    var run = runs[l.run];
    var prefix = runs.length > 1 && run ? run.label + " " : "";
    return prefix + (l.name || "thread") + " [" + l.tid + "]";
  }

  // First event of a lane that may end after t0: events are sorted by start, and a span is
  // drawn from the first whose start is past t0 minus the lane's longest span.
  function firstVisible(l) {
    if (l.maxDur === undefined) {
      l.maxDur = 0;
      for (var i = 0; i < l.ev.length; i++) l.maxDur = Math.max(l.maxDur, l.ev[i][2]);
    }
    var from = view.t0 - l.maxDur, lo = 0, hi = l.ev.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (l.ev[mid][1] < from) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function draw() {
    ctx.clearRect(0, 0, cssW, cssH);
    ctx.lineWidth = 1;
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    // Axis.
    var span = view.t1 - view.t0, w = plotW();
    var step = Math.pow(10, Math.floor(Math.log10(span / 8)));
    if (span / step > 16) step *= 5; else if (span / step > 8) step *= 2;
    ctx.fillStyle = "#616e7c";
    ctx.strokeStyle = "#e4e7eb";
    ctx.beginPath();
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var x = Math.round(xOf(t)) + 0.5;
      ctx.moveTo(x, AXIS_H - 4);
      ctx.lineTo(x, cssH);
      ctx.fillText(fmtMs(t), x + 3, AXIS_H / 2);
    }
    ctx.stroke();
    // Lanes: labels first, then every span of a kind in one path and one fill (a fill per
    // rectangle is what makes a canvas slow), then the markers the same way.
    var paths = {}, ticks = new Path2D(), exits = new Path2D(), bands = new Path2D();
    var markerPaths = {}, selectedMarker = null;
    for (var r = 0; r < order.length; r++) {
      var l = order[r], y = yOf(r);
      if (r % 2 === 1) { ctx.fillStyle = "#fafbfc"; ctx.fillRect(LABEL_W, y, w, LANE_H); }
      ctx.fillStyle = ROLE_COLOR[l.role] || ROLE_COLOR.other;
      ctx.fillRect(0, y + 2, 4, LANE_H - 4);
      ctx.fillStyle = "#1f2933";
      ctx.fillText(clipText(laneLabel(l), LABEL_W - 12), 8, y + LANE_H / 2);
      var lastX = {}, i0 = firstVisible(l);
      for (var i = i0; i < l.ev.length; i++) {
        var e = l.ev[i];
        if (e[1] > view.t1) break;
        if (e[1] + e[2] < view.t0) continue;
        var code = codes[e[0]], st = EVENT_STYLE[code];
        var x0 = Math.max(LABEL_W - 1, xOf(e[1])), x1 = Math.min(cssW, xOf(e[1] + e[2]));
        if (!st) {
          // Instants (loop start, thread start and exit) and codes this page does not know.
          (code === "exit" ? exits : ticks).rect(Math.round(x0), y + 2, 1.5, LANE_H - 4);
          continue;
        }
        // Spans narrower than a pixel: one per pixel column and kind.
        var px = Math.floor(x0);
        if (x1 - x0 < 1 && lastX[code] === px) continue;
        lastX[code] = px;
        var h = st.row === 0 ? LANE_H - 6 : (LANE_H - 6) / 2;
        var top = st.row === 0 ? y + 3 : y + 3 + (LANE_H - 6) / 2;
        (paths[code] || (paths[code] = new Path2D())).rect(x0, top, Math.max(1, x1 - x0), h);
      }
      // Findings: a stall also as a band over its duration; markers closer than two pixels
      // cover each other, so one is drawn.
      var lastMarkerX = -1e9;
      for (var m = 0; m < l.markers.length; m++) {
        var mk = l.markers[m];
        if (mk.t < view.t0 - mk.dur || mk.t - mk.dur > view.t1) continue;
        var f = findings[mk.finding];
        if (mk.dur > 0 && f && f.kind === "loop-stall") {
          var bx = xOf(mk.t - mk.dur);
          bands.rect(bx, y + 1, Math.max(1, xOf(mk.t) - bx), LANE_H - 2);
        }
        if (mk.t < view.t0 || mk.t > view.t1) continue;
        if (mk.finding === selected) { selectedMarker = { mk: mk, y: y }; continue; }
        var mx = xOf(mk.t);
        if (mx - lastMarkerX < 2) continue;
        lastMarkerX = mx;
        var key = f ? f.kind : "";
        diamond(markerPaths[key] || (markerPaths[key] = new Path2D()), mx, y + LANE_H / 2, 6);
      }
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(LABEL_W, AXIS_H, w, cssH - AXIS_H);
    ctx.clip();
    // Full-height spans (busy, task) under the half-height ones (blocking calls, queue and GIL
    // waits) that happen during them.
    [0, 1].forEach(function (row) {
      Object.keys(EVENT_STYLE).forEach(function (code) {
        if (EVENT_STYLE[code].row !== row || !paths[code]) return;
        ctx.fillStyle = EVENT_STYLE[code].color;
        ctx.fill(paths[code]);
      });
    });
    ctx.fillStyle = "#9aa5b1";
    ctx.fill(ticks);
    ctx.fillStyle = "#52606d";
    ctx.fill(exits);
    ctx.fillStyle = "rgba(207,17,36,0.18)";
    ctx.fill(bands);
    ctx.strokeStyle = "#fff";
    Object.keys(markerPaths).forEach(function (k) {
      ctx.fillStyle = k ? kindColor(k) : "#cf1124";
      ctx.fill(markerPaths[k]);
      ctx.stroke(markerPaths[k]);
    });
    if (selectedMarker) {
      var sp = new Path2D(), sf = findings[selectedMarker.mk.finding];
      diamond(sp, xOf(selectedMarker.mk.t), selectedMarker.y + LANE_H / 2, 8);
      ctx.fillStyle = kindColor(sf.kind);
      ctx.fill(sp);
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 2;
      ctx.stroke(sp);
      ctx.lineWidth = 1;
    }
    ctx.restore();
    ctx.strokeStyle = "#d9e2ec";
    ctx.beginPath();
    ctx.moveTo(LABEL_W - 0.5, 0);
    ctx.lineTo(LABEL_W - 0.5, cssH);
    ctx.stroke();
    $("range").textContent = fmtMs(view.t0) + " \u2013 " + fmtMs(view.t1);
  }

  function diamond(path, cx, cy, s) {
    path.moveTo(cx, cy - s);
    path.lineTo(cx + s, cy);
    path.lineTo(cx, cy + s);
    path.lineTo(cx - s, cy);
    path.closePath();
  }

  var pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }

  function setView(t0, t1) {
    var minSpan = 0.01;
    if (t1 - t0 < minSpan) { var c = (t0 + t1) / 2; t0 = c - minSpan / 2; t1 = c + minSpan / 2; }
    var span = t1 - t0;
    if (span > tMax) { t0 = 0; t1 = tMax; }
    else if (t0 < 0) { t0 = 0; t1 = span; }
    else if (t1 > tMax) { t1 = tMax; t0 = tMax - span; }
    view.t0 = t0; view.t1 = t1;
    redraw();
  }
  function zoom(factor, atT) {
    if (atT === undefined) atT = (view.t0 + view.t1) / 2;
    setView(atT - (atT - view.t0) * factor, atT + (view.t1 - atT) * factor);
  }

  // What is under a point of the canvas: a marker (within a few pixels) or a span.
  function hit(x, y) {
    var row = Math.floor((y - AXIS_H) / LANE_H);
    if (row < 0 || row >= order.length || x < LABEL_W) return null;
    var l = order[row], best = null, bestD = 9;
    for (var m = 0; m < l.markers.length; m++) {
      var d = Math.abs(xOf(l.markers[m].t) - x);
      if (d < bestD) { bestD = d; best = l.markers[m]; }
    }
    if (best) return { marker: best, lane: l };
    var t = tOf(x), tol = 2 * (view.t1 - view.t0) / plotW(), found = null;
    for (var i = firstVisible(l); i < l.ev.length; i++) {
      var e = l.ev[i];
      if (e[1] > t + tol) break;
      if (e[1] + e[2] >= t - tol) {
        if (!found || (EVENT_STYLE[codes[e[0]]] && EVENT_STYLE[codes[e[0]]].row === 1)) found = e;
      }
    }
    return found ? { event: found, lane: l } : { lane: l };
  }

  var tip = $("tooltip");
  function showTip(h, x, y) {
    var text = "";
    if (h && h.marker) {
      var f = findings[h.marker.finding];
      text = f.kind + " at " + fmtMs(h.marker.t) + "\n" + f.message + (f.guilty ? "\nat " + f.guilty : "") +
        "\n(click for the stacks)";
    } else if (h && h.event) {
      var e = h.event, code = codes[e[0]], st = EVENT_STYLE[code];
      text = (st ? st.label : INSTANT_LABEL[code] || code) + (e.length > 3 ? ": " + strings[e[3]] : "") + "\n" +
        fmtMs(e[1]) + (e[2] > 0 ? " for " + fmtMs(e[2]) : "");
    } else if (h && h.lane) {
      text = laneLabel(h.lane) + " (" + h.lane.role + ")";
    }
    if (!text) { tip.hidden = true; return; }
    tip.textContent = text;
    tip.hidden = false;
    var box = canvas.getBoundingClientRect(), sect = $("timeline-section").getBoundingClientRect();
    var left = box.left - sect.left + x + 14, top = box.top - sect.top + y + 14;
    if (left + 360 > sect.width) left = Math.max(0, left - 380);
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }

  var drag = null;
  function point(ev) {
    var box = canvas.getBoundingClientRect();
    return { x: ev.clientX - box.left, y: ev.clientY - box.top };
  }
  canvas.addEventListener("wheel", function (ev) {
    var p = point(ev);
    if (p.x < LABEL_W) return;
    ev.preventDefault();
    zoom(Math.pow(1.0015, ev.deltaY), tOf(p.x));
  }, { passive: false });
  canvas.addEventListener("mousedown", function (ev) {
    var p = point(ev);
    drag = { x: p.x, t0: view.t0, t1: view.t1, moved: false };
  });
  window.addEventListener("mousemove", function (ev) {
    var p = point(ev);
    if (drag) {
      var dx = p.x - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (drag.moved) {
        canvas.classList.add("dragging");
        var dt = dx / plotW() * (drag.t1 - drag.t0);
        setView(drag.t0 - dt, drag.t1 - dt);
      }
      return;
    }
    if (ev.target === canvas) showTip(hit(p.x, p.y), p.x, p.y); else tip.hidden = true;
  });
  window.addEventListener("mouseup", function (ev) {
    if (!drag) return;
    var moved = drag.moved;
    drag = null;
    canvas.classList.remove("dragging");
    if (moved || ev.target !== canvas) return;
    var p = point(ev), h = hit(p.x, p.y);
    if (h && h.marker) select(h.marker.finding, true);
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("dblclick", function () { setView(0, tMax); });
  $("zoom-in").addEventListener("click", function () { zoom(0.5); });
  $("zoom-out").addEventListener("click", function () { zoom(2); });
  $("zoom-reset").addEventListener("click", function () { setView(0, tMax); });
  window.addEventListener("resize", resize);

  // --- The findings list (virtual: only the visible rows exist) -----------------------------
  var ROW_H = 24, list = $("list"), spacer = $("list-spacer");
  var rows = [], hiddenKinds = {}, filterText = "", rowEls = [];
  kinds.forEach(function (k) {
    var label = el("label"), box = el("input"), dot = el("span", "k");
    box.type = "checkbox";
    box.checked = true;
    box.addEventListener("change", function () { hiddenKinds[k] = !box.checked; rebuild(); });
    dot.style.cssText = "display:inline-block;width:8px;height:8px;border-radius:50%;margin:0 4px;background:" +
      kindColor(k);
    label.appendChild(box);
    label.appendChild(dot);
    var n = findings.filter(function (f) { return f.kind === k; }).length;
    label.appendChild(document.createTextNode(k + " (" + n + ")"));
    $("kinds").appendChild(label);
  });
  var searchText = function (f) {
    if (f.search === undefined) {
      f.search = (f.kind + "\n" + f.message + "\n" + f.guilty + "\n" + f.tname + "\n" + f.process).toLowerCase();
    }
    return f.search;
  };
  function rebuild() {
    rows = [];
    var shown = 0;
    kinds.forEach(function (k) {
      if (hiddenKinds[k]) return;
      var group = findings.filter(function (f) {
        return f.kind === k && (!filterText || searchText(f).indexOf(filterText) >= 0);
      });
      if (!group.length) return;
      var occ = group.reduce(function (n, f) { return n + (f.occ || 1); }, 0);
      rows.push({ group: k, count: group.length, occ: occ });
      group.forEach(function (f) { rows.push({ finding: f.index }); });
      shown += group.length;
    });
    $("count").textContent = shown + " of " + findings.length;
    spacer.style.height = rows.length * ROW_H + "px";
    renderRows();
  }
  function renderRows() {
    rowEls.forEach(function (e) { e.remove(); });
    rowEls = [];
    var first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - 5);
    var last = Math.min(rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_H) + 5);
    for (var i = first; i < last; i++) {
      var r = rows[i], e;
      if (r.group) {
        e = el("div", "row group", r.group + " \u2014 " + r.count + " distinct, " + r.occ + " occurrences");
      } else {
        var f = findings[r.finding];
        e = el("div", "row" + (r.finding === selected ? " selected" : ""));
        var dot = el("span", "k");
        dot.style.background = kindColor(f.kind);
        e.appendChild(dot);
        if ((f.occ || 1) > 1) e.appendChild(el("span", "n", "\u00d7" + f.occ));
        e.appendChild(document.createTextNode((f.guilty ? f.guilty + " \u2014 " : "") + f.message));
        e.title = f.message;
        e.dataset.finding = r.finding;
        e.addEventListener("click", onRowClick);
      }
      e.style.top = i * ROW_H + "px";
      list.appendChild(e);
      rowEls.push(e);
    }
  }
  function onRowClick(ev) { select(+ev.currentTarget.dataset.finding, false); }
  list.addEventListener("scroll", function () { requestAnimationFrame(renderRows); });
  var filterTimer = 0;
  $("filter").addEventListener("input", function (ev) {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(function () { filterText = ev.target.value.toLowerCase(); rebuild(); }, 120);
  });
  list.addEventListener("keydown", function (ev) {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    var at = rows.findIndex(function (r) { return r.finding === selected; });
    for (var i = at + (ev.key === "ArrowDown" ? 1 : -1); i >= 0 && i < rows.length; i += ev.key === "ArrowDown" ? 1 : -1) {
      if (rows[i].finding !== undefined) { select(rows[i].finding, true); break; }
    }
  });

  // --- The finding panel --------------------------------------------------------------------
  function select(index, fromTimeline) {
    var f = findings[index];
    if (!f) return;
    selected = index;
    var panel = $("panel");
    panel.textContent = "";
    panel.appendChild(el("h2", null, f.kind));
    panel.appendChild(el("p", "message", f.message));
    if (f.guilty) {
      var at = el("p");
      at.appendChild(document.createTextNode("at "));
      at.appendChild(el("span", "guilty", f.guilty));
      panel.appendChild(at);
    }
    var table = el("table");
    var add = function (k, v) {
      var tr = el("tr");
      tr.appendChild(el("td", null, k));
      tr.appendChild(el("td", null, v));
      table.appendChild(tr);
    };
    add("thread", f.tid + " \"" + f.tname + "\" (" + f.role + ")");
    add("process", f.process);
    if (f.time_ms !== undefined) add("time", fmtMs(f.time_ms) + " after start");
    add("seen", f.occ + " time" + (f.occ === 1 ? "" : "s") + (f.reports > 1 ? " in " + f.reports + " processes" : ""));
    (f.fields || []).forEach(function (kv) { add(kv[0], kv[1]); });
    add("report", f.report + " (id " + f.id + ")");
    panel.appendChild(table);
    (f.stacks || []).forEach(function (s) {
      panel.appendChild(el("h3", null, s[0]));
      panel.appendChild(el("pre", "stack", s[1]));
    });
    panel.scrollTop = 0;
    // The list shows the row; the timeline shows the marker.
    var at2 = rows.findIndex(function (r) { return r.finding === index; });
    if (at2 >= 0 && (at2 * ROW_H < list.scrollTop || (at2 + 1) * ROW_H > list.scrollTop + list.clientHeight)) {
      list.scrollTop = Math.max(0, at2 * ROW_H - list.clientHeight / 2);
    }
    renderRows();
    if (!fromTimeline && f.markers.length) {
      var t = f.markers[0].t;
      if (t < view.t0 || t > view.t1) {
        var half = (view.t1 - view.t0) / 2;
        setView(t - half, t + half);
      }
    }
    redraw();
  }

  // --- Start ----------------------------------------------------------------------------------
  rebuild();
  resize();
  // For tests and tools: where a finding's first marker is drawn (CSS pixels from the canvas's
  // top-left corner), and how long the first render took.
  window.loopsanReport = {
    markerPoint: function (index) {
      var f = findings[index];
      if (!f || !f.markers.length) return null;
      var m = f.markers[0];
      return { x: xOf(m.t), y: yOf(lanes[m.lane].row) + LANE_H / 2 };
    },
    findingList: findings,
    laneNames: function () { return order.map(function (l) { return l.name; }); },
    drawMs: function () { var t = performance.now(); draw(); return performance.now() - t; },
    select: function (index) { select(index, false); },
    lanes: order.length,
    findings: findings.length,
    renderMs: performance.now() - started
  };
  document.body.setAttribute("data-ready", "1");
})();
