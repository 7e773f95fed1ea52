"use strict";
// The ops dashboard: plain JS, no build step. Tables are paged, filtered and sorted by the
// server; one EventSource (/ops/api/stream) pushes the overview after every collector round.
(function () {
  const t = I18N.t;
  const $ = (id) => document.getElementById(id);
  const state = {
    view: (location.hash || "#overview").slice(1),
    me: null,
    overview: null,
    topics: {q: "", kind: "", sort: "name", page: 1},
    groups: {q: "", sort: "-lag", page: 1},
    quarantine: {department: "", table: "", rule: "", page: 1},
    schemas: {q: "", page: 1, subject: null},
    openGroup: null,
    loading: false,
  };

  // --- helpers ---------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function number(value, digits) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString(I18N.lang === "en" ? "en" : "zh-CN",
                                        {maximumFractionDigits: digits === undefined ? 1 : digits});
  }
  function bytes(value) {
    if (value === null || value === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = Number(value), i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
  }
  function spark(series) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark"); svg.setAttribute("width", "100"); svg.setAttribute("height", "22");
    const values = series && series.length ? series : [0];
    const max = Math.max(...values, 1e-9);
    const step = values.length > 1 ? 100 / (values.length - 1) : 100;
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", values.map((v, i) => `${(i * step).toFixed(1)},${(20 - (v / max) * 18).toFixed(1)}`).join(" "));
    svg.append(line);
    return svg;
  }
  function health(value) {
    return el("span", {title: t(`health.${value || "unknown"}`)}, el("i", {class: `dot ${value || "unknown"}`}));
  }
  async function api(path, options) {
    const response = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
    if (response.status === 401) { window.location.assign("/ops/login"); throw new Error("signed out"); }
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok) {
      const error = new Error((body && (body.detail || body.title)) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }
  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== "" && value !== null) search.set(key, value);
    return search.toString();
  }
  function table(node, columns, rows, options) {
    options = options || {};
    node.replaceChildren();
    const head = el("tr");
    for (const column of columns) {
      const label = t(column.label) + (options.sort && options.sort.replace("-", "") === column.sort
                                       ? (options.sort.startsWith("-") ? " ▼" : " ▲") : "");
      head.append(el("th", {"data-sort": column.sort || null,
                            onclick: column.sort && options.onSort ? () => options.onSort(column.sort) : null}, label));
    }
    node.append(el("thead", {}, head));
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr", {"data-key": options.key ? options.key(row) : null,
                           class: options.onClick ? "clickable" : null,
                           onclick: options.onClick ? () => options.onClick(row) : null});
      for (const column of columns) {
        const value = column.render ? column.render(row) : row[column.key];
        tr.append(el("td", {class: column.num ? "num" : null, "data-col": column.key || column.label},
                     value instanceof Node ? value : (value === null || value === undefined ? "–" : String(value))));
      }
      body.append(tr);
    }
    if (!rows.length) body.append(el("tr", {}, el("td", {colspan: String(columns.length), class: "muted"}, t("none"))));
    node.append(body);
  }
  function pager(node, page, size, total, go) {
    node.replaceChildren(
      el("button", {disabled: page <= 1 ? "" : null, onclick: () => go(page - 1)}, t("prev")),
      el("span", {class: "muted"}, t("page", {page, total})),
      el("button", {disabled: page * size >= total ? "" : null, onclick: () => go(page + 1)}, t("next")));
  }
  function sortToggle(current, column) {
    return current === column ? `-${column}` : column;
  }

  // --- overview and topology -------------------------------------------------------------
  function showOverview(o) {
    state.overview = o;
    $("kpi-rate").textContent = number(o.messages_per_second);
    $("kpi-bytes").textContent = bytes(o.bytes_per_second);
    $("kpi-topics").textContent = number(o.topics, 0);
    $("kpi-groups").textContent = number(o.groups, 0);
    $("kpi-lag").textContent = number(o.total_lag, 0);
    $("kpi-lagging").textContent = number(o.groups_lagging, 0);
    $("kpi-rows").textContent = number(o.adapters.rows_per_second);
    const banner = $("kafka-error");
    banner.hidden = !o.kafka.error;
    banner.textContent = o.kafka.error ? `${t("kafka.down")} ${o.kafka.error}` : "";
    if (state.view === "overview") drawTopology(o.topology);
  }
  function drawTopology(topology) {
    const svg = $("topology");
    const ns = "http://www.w3.org/2000/svg";
    svg.replaceChildren();
    const width = svg.clientWidth || 1100, height = 380;
    const columns = topology.columns;
    const colWidth = width / columns.length;
    const boxW = Math.min(150, colWidth - 20), boxH = 40;
    const where = {};
    columns.forEach((nodes, c) => {
      const gap = height / (nodes.length + 1);
      nodes.forEach((node, r) => {
        where[node.id] = {x: c * colWidth + (colWidth - boxW) / 2, y: gap * (r + 1) - boxH / 2};
      });
    });
    for (const edge of topology.edges) {
      const a = where[edge.from], b = where[edge.to];
      if (!a || !b) continue;
      const path = document.createElementNS(ns, "path");
      const x1 = a.x + boxW, y1 = a.y + boxH / 2, x2 = b.x, y2 = b.y + boxH / 2, mid = (x1 + x2) / 2;
      path.setAttribute("d", `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
      path.setAttribute("class", "edge");
      svg.append(path);
    }
    columns.flat().forEach((node) => {
      const p = where[node.id];
      const group = document.createElementNS(ns, "g");
      group.setAttribute("class", `node ${node.health}`);
      group.setAttribute("data-node", node.id);
      group.setAttribute("transform", `translate(${p.x},${p.y})`);
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("width", boxW); rect.setAttribute("height", boxH); rect.setAttribute("rx", 6);
      const title = document.createElementNS(ns, "text");
      title.setAttribute("x", 8); title.setAttribute("y", 16); title.textContent = node.label;
      const detail = document.createElementNS(ns, "text");
      detail.setAttribute("x", 8); detail.setAttribute("y", 32); detail.setAttribute("class", "muted");
      const parts = [];
      if (node.count !== undefined) parts.push(`×${node.count}`);
      if (node.rate !== undefined) parts.push(`${number(node.rate)}/s`);
      if (node.lag !== undefined && node.lag !== null) parts.push(`${t("kpi.lag")} ${number(node.lag, 0)}`);
      if (node.rebuild !== undefined && node.rebuild !== null) parts.push(`${t("rebuild")} ${(node.rebuild * 100).toFixed(0)}%`);
      detail.textContent = parts.join(" · ");
      const tip = document.createElementNS(ns, "title");
      tip.textContent = `${node.label}: ${t(`health.${node.health}`)}`;
      group.append(rect, title, detail, tip);
      svg.append(group);
    });
  }

  // --- topics ----------------------------------------------------------------------------
  async function loadTopics() {
    const s = state.topics;
    const page = await api(`/ops/api/topics?${query({q: s.q, kind: s.kind, sort: s.sort, page: s.page, size: 25})}`);
    table($("topics-table"), [
      {key: "name", label: "col.name", sort: "name"},
      {key: "kind", label: "col.kind", sort: "kind"},
      {key: "partitions", label: "col.partitions", sort: "partitions", num: true},
      {label: "col.messages", key: "messages", sort: "messages", num: true, render: (r) => number(r.messages, 0)},
      {label: "col.rate", key: "messages_per_second", sort: "messages_per_second", num: true, render: (r) => number(r.messages_per_second)},
      {label: "col.byterate", key: "bytes_per_second", sort: "bytes_per_second", num: true, render: (r) => bytes(r.bytes_per_second)},
      {label: "col.bytes", key: "bytes", sort: "bytes", num: true, render: (r) => bytes(r.bytes)},
      {label: "col.history", key: "history", render: (r) => spark(r.history)},
    ], page.items, {key: (r) => r.name, sort: s.sort,
                    onSort: (c) => { s.sort = sortToggle(s.sort, c); s.page = 1; refresh(); }});
    pager($("topics-pager"), page.page, page.size, page.total, (p) => { s.page = p; refresh(); });
  }

  // --- consumer groups -------------------------------------------------------------------
  async function loadGroups() {
    const s = state.groups;
    const page = await api(`/ops/api/groups?${query({q: s.q, sort: s.sort, page: s.page, size: 25})}`);
    table($("groups-table"), [
      {label: "col.health", key: "health", render: (r) => health(r.health)},
      {key: "group", label: "col.group", sort: "group"},
      {key: "state", label: "col.state", sort: "state"},
      {key: "members", label: "col.members", sort: "members", num: true},
      {label: "col.lag", key: "lag", sort: "lag", num: true, render: (r) => number(r.lag, 0)},
      {label: "col.lagseconds", key: "lag_seconds", sort: "lag_seconds", num: true,
       render: (r) => (r.lag_seconds_estimated ? "≈" : "") + number(r.lag_seconds)},
      {label: "col.topics", key: "topics", render: (r) => r.topics.join(", ")},
      {label: "col.history", key: "history", render: (r) => spark(r.history)},
    ], page.items, {key: (r) => r.group, sort: s.sort,
                    onSort: (c) => { s.sort = sortToggle(s.sort, c); s.page = 1; refresh(); },
                    onClick: (r) => { state.openGroup = r.group; loadGroupDetail(); }});
    pager($("groups-pager"), page.page, page.size, page.total, (p) => { s.page = p; refresh(); });
    if (state.openGroup) await loadGroupDetail();
  }
  async function loadGroupDetail() {
    const name = state.openGroup;
    $("group-detail").hidden = false;
    $("group-detail-name").textContent = name;
    try {
      const detail = await api(`/ops/api/groups/${encodeURIComponent(name)}`);
      table($("group-partitions"), [
        {key: "topic", label: "col.topics"}, {key: "partition", label: "col.partition", num: true},
        {key: "committed", label: "col.committed", num: true}, {key: "end_offset", label: "col.end", num: true},
        {key: "lag", label: "col.lag", num: true},
        {key: "lag_seconds", label: "col.lagseconds", num: true,
         render: (r) => (r.lag_seconds_estimated ? "≈" : "") + number(r.lag_seconds)},
        {key: "messages_per_second", label: "col.rate", num: true},
      ], detail.partitions, {key: (r) => `${r.topic}/${r.partition}`});
    } catch (error) {
      $("group-partitions").replaceChildren(el("caption", {class: "error"}, error.message));
    }
  }

  // --- adapters and projections ----------------------------------------------------------
  async function loadAdapters() {
    const body = await api("/ops/api/adapters");
    $("adapters-error").textContent = body.error ? `${t("adapters.error")} ${body.error}` : "";
    table($("adapters-table"), [
      {label: "col.health", key: "health", render: (r) => health(r.health)},
      {key: "name", label: "col.table"},
      {label: "col.strategy", key: "strategy", render: (r) => `${r.engine}/${r.strategy}`},
      {label: "col.state", key: "state", render: (r) => r.state + (r.snapshot_total ? ` ${r.snapshot_done || 0}/${r.snapshot_total}` : "")},
      {key: "position", label: "col.position"},
      {label: "col.rows", key: "rows", num: true, render: (r) => number(r.rows, 0)},
      {label: "col.rowrate", key: "rows_per_second", num: true, render: (r) => number(r.rows_per_second)},
      {label: "col.quarantined", key: "quarantined", num: true},
      {label: "col.errors", key: "errors", render: (r) => `${r.errors}/${r.retries}` + (r.last_error ? ` — ${r.last_error}` : "")},
      {label: "col.reachable", key: "source_reachable",
       render: (r) => health(r.source_reachable === null || r.source_reachable === undefined ? "unknown" : r.source_reachable ? "ok" : "bad")},
    ], body.items, {key: (r) => r.name});
  }
  function rebuildBars(rebuilds) {
    if (!rebuilds || !rebuilds.length) return "–";
    return el("div", {}, ...rebuilds.map((r) => el("div", {class: "rebuild"},
      el("progress", {max: "1", value: r.progress === null ? "0" : String(r.progress)}),
      ` ${r.progress === null ? "–" : (r.progress * 100).toFixed(0) + "%"} ${number(r.events, 0)}/${number(r.total, 0)} ${r.store}`)));
  }
  function rebuildAction(row, jobs) {
    const job = jobs[row.name];
    const operator = state.me && state.me.operator;
    const status = job ? el("span", {class: job.state === "failed" ? "error" : "muted", "data-job": job.state},
      ` ${t(`job.${job.state}`)}` + (job.error ? `: ${job.error}` : "")) : null;
    const button = el("button", {disabled: !operator || (job && job.state === "running") ? "" : null,
                                 title: operator ? "" : t("replay.operator"), "data-rebuild": row.name,
                                 onclick: () => startRebuild(row.name)}, t("rebuild.start"));
    return el("span", {}, button, status);
  }
  async function startRebuild(name) {
    try {
      await api(`/ops/api/projections/${encodeURIComponent(name)}/rebuild`, {
        method: "POST", headers: {"Content-Type": "application/json", "X-Ops-Request": "1"},
        body: JSON.stringify({switch: true})});
    } catch (error) {
      console.warn(error.message);
    }
    refresh();
  }
  async function loadProjections() {
    const body = await api("/ops/api/projections");
    const jobs = Object.fromEntries((await api("/ops/api/rebuilds")).items.map((j) => [j.projection, j]));
    table($("projections-table"), [
      {label: "col.health", key: "health", render: (r) => health(r.health)},
      {key: "name", label: "col.name"},
      {label: "col.position", key: "position", num: true, render: (r) => number(r.position, 0)},
      {label: "col.lag", key: "lag", num: true, render: (r) => number(r.lag, 0)},
      {label: "col.lagseconds", key: "lag_seconds", num: true, render: (r) => number(r.lag_seconds)},
      {label: "col.partitions", key: "partitions", render: (r) => r.partitions.map((p) => `${p.topic}/${p.partition}@${p.position}`).join(", ")},
      {label: "rebuild", key: "rebuilds", render: (r) => rebuildBars(r.rebuilds)},
      {label: "col.action", key: "action", render: (r) => rebuildAction(r, jobs)},
    ], body.items, {key: (r) => r.name});
    table($("projection-groups-table"), [
      {key: "group", label: "col.group"}, {key: "state", label: "col.state"},
      {key: "members", label: "col.members", num: true},
      {label: "col.lag", key: "lag", num: true, render: (r) => number(r.lag, 0)},
      {label: "col.lagseconds", key: "lag_seconds", num: true, render: (r) => number(r.lag_seconds)},
    ], body.groups, {key: (r) => r.group});
  }

  // --- quarantine ------------------------------------------------------------------------
  function options(select, values, allLabel, chosen) {
    select.replaceChildren(el("option", {value: ""}, t(allLabel)),
      ...values.map((v) => el("option", {value: v, selected: v === chosen ? "" : null}, v)));
  }
  async function loadQuarantine() {
    const s = state.quarantine;
    let body;
    try {
      body = await api(`/ops/api/quarantine?${query({department: s.department, table: s.table, rule: s.rule, page: s.page})}`);
    } catch (error) {
      $("q-message").textContent = "";
      $("quarantine-table").replaceChildren(el("caption", {class: "error"}, `${t("unavailable")} ${error.message}`));
      return;
    }
    const all = body.tables;
    options($("q-department"), [...new Set(all.map((x) => x.department))], "all.departments", s.department);
    options($("q-table"), [...new Set(all.filter((x) => !s.department || x.department === s.department).map((x) => x.table))], "all.tables", s.table);
    options($("q-rule"), [...new Set(all.flatMap((x) => x.rules.map((r) => r.rule_id)))], "all.rules", s.rule);
    const operator = state.me && state.me.operator;
    const chosenTable = s.department && s.table;
    for (const id of ["q-replay", "q-dry-run"]) {
      $(id).disabled = !(operator && chosenTable);
      $(id).title = operator ? "" : t("replay.operator");
    }
    $("q-masked").textContent = body.masked ? t("masked") : "";
    table($("quarantine-table"), [
      {key: "department", label: "col.table", render: (r) => `${r.department}.${r.table}`},
      {key: "record_key", label: "col.key"},
      {key: "rule_id", label: "col.rule"},
      {key: "message", label: "col.reason", render: (r) => (I18N.lang === "en" ? r.message_en : r.message_zh) + (r.column ? ` (${r.column})` : "")},
      {key: "original", label: "col.original", render: (r) => el("pre", {class: "row"}, JSON.stringify(r.original, null, 1))},
      {key: "at_ms", label: "col.time", render: (r) => new Date(r.at_ms).toLocaleString()},
    ], body.items, {key: (r) => r.position});
    pager($("quarantine-pager"), body.page, body.size, body.total, (p) => { s.page = p; refresh(); });
  }
  async function replay(dryRun) {
    const s = state.quarantine;
    $("q-message").textContent = "…";
    try {
      const result = await api("/ops/api/quarantine/replay", {
        method: "POST", headers: {"Content-Type": "application/json", "X-Ops-Request": "1"},
        body: JSON.stringify({department: s.department, table: s.table, dry_run: dryRun})});
      $("q-message").textContent = t("replay.done", result) + (dryRun ? ` (${t("replay.dry")})` : "");
    } catch (error) {
      $("q-message").textContent = error.message;
    }
    refresh();
  }

  // --- schemas ---------------------------------------------------------------------------
  async function loadSchemas() {
    const s = state.schemas;
    const page = await api(`/ops/api/schemas?${query({q: s.q, page: s.page, size: 25})}`);
    $("schemas-compat").textContent = page.compatibility;
    table($("schemas-table"), [
      {key: "subject", label: "col.subject"},
      {key: "versions", label: "col.versions", render: (r) => r.versions.join(", ")},
    ], page.items, {key: (r) => r.subject, onClick: (r) => { s.subject = r.subject; s.from = null; s.to = null; loadDiff(); }});
    pager($("schemas-pager"), page.page, page.size, page.total, (p) => { s.page = p; refresh(); });
  }
  async function loadDiff() {
    const s = state.schemas;
    if (!s.subject) return;
    const params = query({from: s.from || "", to: s.to || ""});
    const [detail, diff] = await Promise.all([
      api(`/ops/api/schemas/${encodeURIComponent(s.subject)}`),
      api(`/ops/api/schemas/${encodeURIComponent(s.subject)}/diff?${params}`)]);
    $("schema-detail").hidden = false;
    $("schema-subject").textContent = s.subject;
    $("schema-compat").textContent = detail.compatibility;
    $("diff-changed").textContent = diff.changed;
    for (const [id, chosen] of [["diff-from", diff.from], ["diff-to", diff.to]]) {
      $(id).replaceChildren(...diff.versions.map((v) => el("option", {value: v, selected: v === chosen ? "" : null}, v)));
    }
    const rows = diff.rows.map((r) => el("tr", {class: r.op},
      el("td", {class: "left"}, r.left === null ? "" : r.left), el("td", {class: "right"}, r.right === null ? "" : r.right)));
    $("schema-diff").replaceChildren(el("tbody", {}, ...rows));
  }

  // --- data quality ----------------------------------------------------------------------
  async function loadQuality() {
    try {
      const report = await api("/ops/api/quality");
      $("quality-error").textContent = "";
      table($("quality-table"), [
        {key: "table", label: "col.table", render: (r) => `${r.department}.${r.table}`},
        {key: "entity", label: "col.kind"},
        {key: "accepted", label: "col.accepted", num: true},
        {key: "quarantined", label: "col.quarantined", num: true},
        {key: "deleted", label: "col.deleted", num: true},
        {key: "accepted_ratio", label: "col.ratio", num: true,
         render: (r) => (r.accepted_ratio === null ? "–" : `${(r.accepted_ratio * 100).toFixed(1)}%`)},
        {key: "rules", label: "col.rule", render: (r) => r.rules.map((x) => `${x.rule_id}: ${x.records}`).join(", ")},
      ], report.tables, {key: (r) => `${r.department}.${r.table}`});
    } catch (error) {
      $("quality-error").textContent = `${t("unavailable")} ${error.message}`;
    }
  }

  // --- message browser -------------------------------------------------------------------
  async function loadMessages() {
    if (state.overview && !$("messages-topics").childElementCount) {
      const topics = await api("/ops/api/topics?size=200&sort=name");
      $("messages-topics").replaceChildren(...topics.items.map((x) => el("option", {value: x.name})));
    }
  }
  async function readMessages() {
    const params = {topic: $("messages-topic").value.trim(), partition: $("messages-partition").value || "0",
                    offset: $("messages-offset").value};
    try {
      const body = await api(`/ops/api/messages?${query(params)}`);
      $("messages-info").textContent = t("messages.info", {begin: body.begin, end: body.end, count: body.items.length})
        + (body.masked ? ` · ${t("masked")}` : "");
      table($("messages-table"), [
        {key: "offset", label: "col.position", num: true},
        {key: "timestamp_ms", label: "col.time", render: (r) => new Date(r.timestamp_ms).toLocaleString()},
        {key: "type", label: "col.type", render: (r) => r.headers.ce_type || r.encoding},
        {key: "key", label: "col.key", render: (r) => JSON.stringify(r.key)},
        {key: "value", label: "col.value", render: (r) => el("pre", {class: "row"}, JSON.stringify(r.value, null, 1))},
      ], body.items, {key: (r) => String(r.offset)});
    } catch (error) {
      $("messages-info").textContent = error.message;
      $("messages-table").replaceChildren();
    }
  }

  // --- catalog and lineage ---------------------------------------------------------------
  async function loadCatalog() {
    const body = await api(`/ops/api/catalog?${query({search: $("catalog-q").value.trim()})}`);
    const fields = body.datasets.flatMap((d) => d.fields.map((f) => Object.assign({kind: d.kind}, f)));
    table($("catalog-table"), [
      {key: "id", label: "col.field"}, {key: "kind", label: "col.kind"},
      {key: "classification", label: "col.classification"}, {key: "owner", label: "col.owner"},
    ], fields.slice(0, 200), {key: (r) => r.id, onClick: (r) => loadLineage(r.id)});
  }
  async function loadLineage(field) {
    try {
      const body = await api(`/ops/api/catalog/lineage?${query({field})}`);
      $("lineage").hidden = false;
      $("lineage-field").textContent = `${body.field.id} (${body.field.classification || "–"})`;
      const item = (f) => el("li", {}, `${f.id}`, el("span", {class: "muted"}, f.classification ? ` · ${f.classification}` : ""));
      $("lineage-up").replaceChildren(...body.upstream.map(item));
      $("lineage-down").replaceChildren(...body.downstream.map(item));
    } catch (error) {
      $("lineage").hidden = false;
      $("lineage-field").textContent = error.message;
    }
  }

  // --- audit statistics ------------------------------------------------------------------
  async function loadAudit() {
    try {
      const body = await api("/ops/api/audit");
      $("audit-summary").textContent = t("audit.summary", {records: number(body.records, 0), chains: body.chains,
        last: body.last_at_ms ? new Date(body.last_at_ms).toLocaleString() : "–"});
      const counts = (label) => [{key: "name", label}, {key: "records", label: "col.records", num: true}];
      table($("audit-clients"), counts("col.client"), body.by_client, {key: (r) => r.name});
      table($("audit-endpoints"), counts("col.endpoint"), body.by_endpoint, {key: (r) => r.name});
      table($("audit-days"), counts("col.day"), body.by_day, {key: (r) => r.name});
    } catch (error) {
      $("audit-summary").textContent = `${t("unavailable")} ${error.message}`;
    }
  }

  // --- navigation and live updates -------------------------------------------------------
  const loaders = {overview: async () => { if (state.overview) drawTopology(state.overview.topology); },
                   topics: loadTopics, groups: loadGroups, adapters: loadAdapters,
                   projections: loadProjections, quarantine: loadQuarantine,
                   schemas: loadSchemas, quality: loadQuality, messages: loadMessages,
                   catalog: loadCatalog, audit: loadAudit};
  async function refresh() {
    if (state.loading) { state.again = true; return; }
    state.loading = true;
    try { await loaders[state.view](); } catch (error) { console.warn(error.message); }
    finally {
      state.loading = false;
      if (state.again) { state.again = false; refresh(); }
    }
  }
  function show(view) {
    if (!loaders[view]) view = "overview";
    state.view = view;
    for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
    for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.view === view);
    if (location.hash !== `#${view}`) history.replaceState(null, "", `#${view}`);
    refresh();
  }
  function debounce(f, ms) { let timer; return (...a) => { clearTimeout(timer); timer = setTimeout(() => f(...a), ms); }; }

  function connect() {
    const source = new EventSource("/ops/api/stream");
    source.addEventListener("overview", (event) => {
      state.live = true;
      showLive();
      showOverview(JSON.parse(event.data));
      if (!["overview", "schemas", "messages", "catalog", "audit"].includes(state.view)) refresh();
    });
    source.onerror = () => { state.live = false; showLive(); };
  }
  function showLive() {
    $("live").className = state.live ? "badge" : "badge off";
    $("live").textContent = t(state.live ? "live" : "offline");
  }
  function showWho() {
    if (state.me) $("who").textContent = t("who") + state.me.client + ` (${state.me.roles.join(", ")})`;
  }

  async function start() {
    I18N.apply();
    I18N.onChange(() => { showLive(); showWho(); if (state.overview) showOverview(state.overview); refresh(); });
    $("lang").addEventListener("click", () => I18N.toggle());
    $("logout").addEventListener("click", async () => {
      await fetch("/ops/api/logout", {method: "POST", headers: {"X-Ops-Request": "1"}, credentials: "same-origin"});
      window.location.assign("/ops/login");
    });
    for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => show(button.dataset.view));
    $("topics-q").addEventListener("input", debounce((e) => { state.topics.q = e.target.value; state.topics.page = 1; refresh(); }, 250));
    $("topics-kind").addEventListener("change", (e) => { state.topics.kind = e.target.value; state.topics.page = 1; refresh(); });
    $("groups-q").addEventListener("input", debounce((e) => { state.groups.q = e.target.value; state.groups.page = 1; refresh(); }, 250));
    $("group-detail-close").addEventListener("click", () => { state.openGroup = null; $("group-detail").hidden = true; });
    $("schemas-q").addEventListener("input", debounce((e) => { state.schemas.q = e.target.value; state.schemas.page = 1; refresh(); }, 250));
    $("diff-from").addEventListener("change", (e) => { state.schemas.from = e.target.value; loadDiff(); });
    $("diff-to").addEventListener("change", (e) => { state.schemas.to = e.target.value; loadDiff(); });
    for (const [id, key] of [["q-department", "department"], ["q-table", "table"], ["q-rule", "rule"]]) {
      $(id).addEventListener("change", (e) => {
        state.quarantine[key] = e.target.value;
        if (key === "department") state.quarantine.table = "";
        state.quarantine.page = 1; refresh();
      });
    }
    $("messages-form").addEventListener("submit", (e) => { e.preventDefault(); readMessages(); });
    $("catalog-form").addEventListener("submit", (e) => { e.preventDefault(); loadCatalog(); });
    $("q-replay").addEventListener("click", () => replay(false));
    $("q-dry-run").addEventListener("click", () => replay(true));
    state.me = await api("/ops/api/me");
    showWho();
    try { showOverview(await api("/ops/api/overview")); } catch (error) { console.warn(error.message); }
    show(state.view);
    connect();
  }
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  start();
})();
