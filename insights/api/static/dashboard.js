/* cx-insights dashboard: plain JavaScript and SVG, no libraries, no network beyond this API (works offline).
 *
 * Query parameters: ?poll=SECONDS (alert polling, default 10), ?days=N (initial range).
 * A token (when the API needs one) comes from #token=... in the address or the form, kept in localStorage.
 */
(function () {
  "use strict";

  const COLORS = ["#1a73e8", "#d93025", "#188038", "#e8710a", "#9334e6", "#12b5cb", "#f538a0", "#5f6368"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  const params = new URLSearchParams(location.search);
  const pollSeconds = Math.max(1, Number(params.get("poll")) || 10);
  const seenAlerts = new Set();
  let firstAlertLoad = true;
  let token = null;

  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    token = hash.get("token");
    try { localStorage.setItem("cx-insights-token", token); } catch (e) { /* private mode */ }
    history.replaceState(null, "", location.pathname + location.search);
  } else {
    try { token = localStorage.getItem("cx-insights-token"); } catch (e) { token = null; }
  }
  if (params.get("days")) document.getElementById("range").value = params.get("days");

  const $ = (id) => document.getElementById(id);
  const pct = (x, digits = 1) => (x == null ? "–" : (100 * x).toFixed(digits) + "%");
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function setStatus(text, error) {
    const el = $("status");
    el.textContent = text;
    el.classList.toggle("error", !!error);
  }

  class Unauthorized extends Error {}

  async function api(path, query) {
    const url = new URL("api/" + path, location.href);
    for (const [k, v] of Object.entries(query || {})) {
      if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
      else if (v != null) url.searchParams.set(k, v);
    }
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const response = await fetch(url, { headers });
    if (response.status === 401) throw new Unauthorized("token needed");
    if (!response.ok) throw new Error(path + ": HTTP " + response.status);
    return response.json();
  }

  // -- range: the last N days of the data in the store (not of the clock: replays and demos are in the past)
  let extent = null;
  async function range() {
    if (!extent) {
      const stats = await api("stats");
      extent = stats;
      $("extent").textContent = stats.feedback + " feedback items, " + stats.themes + " themes, " + stats.alerts +
        " alerts" + (stats.first_window ? ", windows " + stats.first_window + " → " + stats.last_window_end : "");
    }
    const days = Number($("range").value);
    const until = extent.last_window_end ? new Date(extent.last_window_end) : new Date();
    const since = new Date(until.getTime() - days * 86400e3);
    const bucket = days > 14 ? "1d" : days > 3 ? "6h" : null;
    return { since: since.toISOString(), until: until.toISOString(), bucket };
  }

  // -- SVG line chart ---------------------------------------------------------------------------------------
  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function niceMax(x) {
    if (!(x > 0)) return 0.01;
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
    return 10 * p;
  }

  function timeLabel(ms, spanMs) {
    const d = new Date(ms);
    const day = d.toISOString().slice(5, 10);
    return spanMs > 3 * 86400e3 ? day : day + " " + d.toISOString().slice(11, 16);
  }

  function lineChart(svg, series, opts) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const width = svg.clientWidth || 600, height = svg.clientHeight || 260;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    const m = { l: 48, r: 12, t: 10, b: 26 };
    const pts = series.flatMap((s) => s.points.filter((p) => p.share != null));
    if (!pts.length) {
      el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" }, svg).textContent =
        "no data in this range";
      svg.dataset.drawn = "0";
      return;
    }
    const t0 = Math.min(...pts.map((p) => Date.parse(p.start)));
    const t1 = Math.max(...pts.map((p) => Date.parse(p.end)));
    const yMax = niceMax(Math.max(...pts.map((p) => p.share)) * 1.05);
    const x = (t) => m.l + (t - t0) / Math.max(1, t1 - t0) * (width - m.l - m.r);
    const y = (v) => height - m.b - v / yMax * (height - m.t - m.b);
    const axis = el("g", { class: "axis" }, svg);
    for (let i = 0; i <= 5; i++) {
      const v = yMax * i / 5;
      el("line", { x1: m.l, x2: width - m.r, y1: y(v), y2: y(v) }, axis);
      el("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, axis).textContent = pct(v, yMax < 0.05 ? 1 : 0);
    }
    const ticks = Math.max(2, Math.min(8, Math.floor((width - m.l) / 110)));
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + (t1 - t0) * i / ticks;
      el("text", { x: x(t), y: height - 8, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle" }, axis)
        .textContent = timeLabel(t, t1 - t0);
    }
    series.forEach((s, i) => {
      const color = s.color || COLORS[i % COLORS.length];
      const mid = (p) => (Date.parse(p.start) + Date.parse(p.end)) / 2;
      const valid = s.points.filter((p) => p.share != null);
      if (!valid.length) return;
      const d = valid.map((p, j) => (j ? "L" : "M") + x(mid(p)).toFixed(1) + "," + y(p.share).toFixed(1)).join("");
      if (opts && opts.area) {
        el("path", { class: "area", fill: color, d: d + "L" + x(mid(valid[valid.length - 1])).toFixed(1) + "," +
          y(0) + "L" + x(mid(valid[0])).toFixed(1) + "," + y(0) + "Z" }, svg);
      }
      const path = el("path", { class: "series", stroke: color, d, "data-theme": s.theme_id }, svg);
      el("title", {}, path).textContent = s.label;
      const last = valid[valid.length - 1];
      const dot = el("circle", { cx: x(mid(last)), cy: y(last.share), r: 3, fill: color }, svg);
      el("title", {}, dot).textContent = s.label + ": " + pct(last.share) + " (" + last.count + " of " +
        last.total + ")";
    });
    svg.dataset.drawn = String(series.length);
  }

  // -- the parts ------------------------------------------------------------------------------------------
  async function drawTrends(r) {
    const data = await api("trends", { since: r.since, until: r.until, bucket: r.bucket, top: 6 });
    lineChart($("trend-chart"), data.series);
    $("trend-legend").innerHTML = data.series.map((s, i) =>
      '<span style="--c:' + COLORS[i % COLORS.length] + '">' + esc(s.label) +
      (s.empathy_category ? " ⚑" : "") + "</span>").join("");
  }

  async function drawEmpathy(r) {
    const data = await api("empathy/share", { since: r.since, until: r.until, bucket: r.bucket });
    lineChart($("empathy-chart"), [{ theme_id: "__empathy__", label: "empathy complaints", color: "#d93025",
      points: data.points }], { area: true });
    const count = data.points.reduce((a, p) => a + p.count, 0);
    const total = data.points.reduce((a, p) => a + p.total, 0);
    $("empathy-summary").textContent = total ?
      count + " of " + total + " feedback items (" + pct(count / total) + ") in the range" : "";
  }

  function heat(share, max) {
    const a = max > 0 ? Math.min(1, share / max) : 0;
    return "rgba(217, 48, 37, " + (0.08 + 0.8 * a).toFixed(3) + ")";
  }

  async function drawHeatmap(r) {
    const m = await api("heatmap", { since: r.since, until: r.until, dimension: "journey_stage", themes: 8 });
    if (!m.themes.length || !m.values.length) {
      $("heatmap").innerHTML = '<p class="empty">no data in this range</p>';
      return;
    }
    const max = Math.max(...m.shares.flat().map((x) => x || 0));
    let html = "<table><thead><tr><th>Theme</th>" + m.values.map((v, j) =>
      "<th>" + esc(v) + "<br><small>" + m.totals[j] + " items</small></th>").join("") + "</tr></thead><tbody>";
    m.themes.forEach((t, i) => {
      html += "<tr><th>" + esc(t.label) + "</th>" + m.shares[i].map((s, j) =>
        '<td class="cell" style="background:' + heat(s || 0, max) + '" title="' + esc(t.label) + " × " +
        esc(m.values[j]) + ": " + m.counts[i][j] + " items" + '">' + pct(s) + "</td>").join("") + "</tr>";
    });
    $("heatmap").innerHTML = html + "</tbody></table>";
  }

  async function drawAgents(r) {
    const data = await api("dimensions/agent_id/themes", { since: r.since, until: r.until, top: 3, limit: 15 });
    const maxShare = Math.max(0.01, ...data.items.map((a) => a.empathy_share || 0));
    $("agents").querySelector("tbody").innerHTML = data.items.length ? data.items.map((a) =>
      "<tr><td>" + esc(a.value) + "</td><td>" + a.total + "</td><td>" +
      '<span class="bar" style="width:' + (60 * (a.empathy_share || 0) / maxShare).toFixed(0) + 'px"></span>' +
      pct(a.empathy_share) + "</td><td>" + a.themes.map((t) =>
        '<span class="chip' + (t.empathy_category ? " empathy" : "") + '">' + esc(t.label) + " " + pct(t.share, 0) +
        "</span>").join("") + "</td></tr>").join("") : '<tr><td colspan="4">no agents in this range</td></tr>';
  }

  async function drawImpact(r) {
    const data = await api("impact/themes", { since: r.since, until: r.until, top: 8, min_count: 20 });
    const group = data.groups.length ? data.groups[0] : null;
    const themes = group ? group.themes : [];
    const maxLost = Math.max(0.01, ...themes.map((t) => t.points_lost));
    const row = (t) => '<tr data-theme="' + esc(t.theme_id) + '" title="' + esc(t.sentence) + '">' +
      "<td>" + esc(t.label) + "</td><td>" + pct(t.share) + "</td>" +
      "<td>" + t.mean_with.toFixed(1) + " vs " + t.mean_without.toFixed(1) + "</td>" +
      '<td><span class="bar" style="width:' + (60 * Math.max(0, t.points_lost) / maxLost).toFixed(0) + 'px"></span>' +
      t.points_lost.toFixed(2) + " (" + t.points_lost_ci[0].toFixed(2) + " to " + t.points_lost_ci[1].toFixed(2) +
      ")" + (t.significant ? "" : " <small>not significant</small>") + "</td></tr>";
    $("impact").querySelector("tbody").innerHTML = themes.length ? themes.map(row).join("") :
      '<tr><td colspan="4">no theme has 20 or more scored items in this range</td></tr>';
    $("impact-summary").textContent = data.scored ? data.scored + " scored feedback items in the range" +
      (group && group.mean != null ? ", average score " + group.mean.toFixed(1) + " of 100" : "") :
      "no scored feedback in this range";
  }

  function describeSlice(dims) {
    const entries = Object.entries(dims || {});
    return entries.length ? entries.map(([k, v]) => k.replace("_id", "") + " " + v).join(", ") : "all feedback";
  }

  async function pollAlerts() {
    const data = await api("alerts", { limit: 30 });
    $("alerts-count").textContent = data.total + " in total";
    const list = $("alerts");
    if (!data.items.length) {
      list.innerHTML = '<li class="none">no alerts yet</li>';
      return;
    }
    list.innerHTML = data.items.map((a) => {
      const isNew = !firstAlertLoad && !seenAlerts.has(a.alert_id);
      seenAlerts.add(a.alert_id);
      return '<li class="sev-' + esc(a.severity) + (isNew ? " new" : "") + '" data-alert-id="' + esc(a.alert_id) +
        '"><div class="head"><span class="sev">' + esc(a.severity) + "</span>" + esc(a.theme_label || a.theme_id) +
        " · " + esc(describeSlice(a.dimensions)) + "</div>" +
        '<div class="why">' + esc(a.observed) + " observed vs " + Number(a.expected).toFixed(1) + " expected (×" +
        Number(a.ratio).toFixed(1) + (a.p_value != null ? ", p=" + Number(a.p_value).toExponential(1) : "") +
        "), window " + esc(String(a.window_start).slice(0, 16)) + "–" + esc(String(a.window_end).slice(11, 16)) +
        " UTC</div>" + (a.quotes || []).slice(0, 2).map((q) => '<div class="quote">“' + esc(q) + "”</div>").join("") +
        "</li>";
    }).join("");
    firstAlertLoad = false;
  }

  async function guarded(fn) {
    try {
      await fn();
      return true;
    } catch (err) {
      if (err instanceof Unauthorized) {
        $("token-form").hidden = false;
        setStatus("a token is needed", true);
      } else {
        setStatus("error: " + err.message, true);
      }
      return false;
    }
  }

  async function refreshAll() {
    extent = null;
    const ok = await guarded(async () => {
      const r = await range();
      await Promise.all([drawTrends(r), drawEmpathy(r), drawHeatmap(r), drawImpact(r), drawAgents(r), pollAlerts()]);
    });
    if (ok) setStatus("updated " + new Date().toISOString().slice(11, 19) + " UTC");
    document.body.dataset.loaded = ok ? "1" : "0";
  }

  $("range").addEventListener("change", refreshAll);
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("token").value;
    try { localStorage.setItem("cx-insights-token", token); } catch (e) { /* private mode */ }
    $("token-form").hidden = true;
    refreshAll();
  });
  let ticks = 0;
  setInterval(async () => {
    ticks += 1;
    if (ticks % 6 === 0) { await refreshAll(); return; }
    if (await guarded(pollAlerts)) setStatus("updated " + new Date().toISOString().slice(11, 19) + " UTC");
  }, pollSeconds * 1000);
  refreshAll();
})();
