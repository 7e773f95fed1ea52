"use strict";
// Labels in Chinese and English; the choice is kept in localStorage ("rongtong.lang").
const I18N = (function () {
  const labels = {
    "title": ["融通 运维看板", "Rongtong operations"],
    "lang": ["English", "中文"],
    "login.hint": ["用具有 reader 或 operator 角色的客户端 API 密钥登录。",
                   "Sign in with the API key of a client holding the reader or operator role."],
    "login.key": ["API 密钥", "API key"],
    "login.purpose": ["用途（可选，用于查看未脱敏数据）", "Purpose (optional; to see unmasked data)"],
    "login.submit": ["登录", "Sign in"],
    "login.failed": ["登录失败：", "Sign-in failed:"],
    "logout": ["退出", "Sign out"],
    "nav.overview": ["总览", "Overview"],
    "nav.topics": ["主题", "Topics"],
    "nav.groups": ["消费组", "Consumer groups"],
    "nav.adapters": ["适配器", "Adapters"],
    "nav.projections": ["投影", "Projections"],
    "nav.quarantine": ["隔离区", "Quarantine"],
    "nav.schemas": ["模式", "Schemas"],
    "nav.quality": ["数据质量", "Data quality"],
    "kpi.rate": ["消息/秒", "messages/s"],
    "kpi.bytes": ["字节/秒", "bytes/s"],
    "kpi.topics": ["主题数", "topics"],
    "kpi.groups": ["消费组数", "groups"],
    "kpi.lag": ["总积压", "total lag"],
    "kpi.lagging": ["积压告警组", "lagging groups"],
    "kpi.rows": ["采集行/秒", "captured rows/s"],
    "kafka.down": ["Kafka 不可达：", "Kafka unreachable:"],
    "live": ["实时", "live"],
    "offline": ["已断开", "disconnected"],
    "filter": ["筛选…", "filter…"],
    "kind.all": ["全部类型", "all kinds"],
    "prev": ["上一页", "previous"],
    "next": ["下一页", "next"],
    "page": ["第 {page} 页 · 共 {total} 条", "page {page} · {total} rows"],
    "col.name": ["名称", "name"], "col.kind": ["类型", "kind"],
    "col.partitions": ["分区", "partitions"], "col.messages": ["消息数", "messages"],
    "col.rate": ["消息/秒", "msg/s"], "col.bytes": ["大小", "size"],
    "col.byterate": ["字节/秒", "bytes/s"], "col.history": ["趋势", "history"],
    "col.group": ["消费组", "group"], "col.state": ["状态", "state"],
    "col.members": ["成员", "members"], "col.lag": ["积压（条）", "lag (messages)"],
    "col.lagseconds": ["积压（秒）", "lag (seconds)"], "col.topics": ["主题", "topics"],
    "col.health": ["健康", "health"], "col.strategy": ["引擎/策略", "engine/strategy"],
    "col.position": ["位点", "position"], "col.rows": ["行数", "rows"],
    "col.rowrate": ["行/秒", "rows/s"], "col.errors": ["错误/重试", "errors/retries"],
    "col.reachable": ["源可达", "source reachable"], "col.quarantined": ["隔离", "quarantined"],
    "col.partition": ["分区", "partition"], "col.committed": ["已提交", "committed"],
    "col.end": ["末端位点", "end offset"], "col.rule": ["规则", "rule"],
    "col.reason": ["原因", "reason"], "col.original": ["原始行", "original row"],
    "col.table": ["表", "table"], "col.key": ["记录键", "record key"],
    "col.subject": ["主题名（Subject）", "subject"], "col.versions": ["版本", "versions"],
    "col.accepted": ["通过", "accepted"], "col.ratio": ["通过率", "accepted %"],
    "col.deleted": ["删除", "deleted"], "col.time": ["时间", "time"],
    "partitions.of": ["分区明细：", "partitions of "],
    "close": ["关闭", "close"],
    "adapters.error": ["适配器进程不可达：", "adapters unreachable:"],
    "replay": ["修复后重放", "Replay after fix"],
    "replay.dry": ["试运行", "Dry run"],
    "replay.done": ["重放完成：尝试 {candidates}，通过 {passed}，已发布 {published}",
                    "replay done: tried {candidates}, passed {passed}, published {published}"],
    "replay.operator": ["仅 operator 角色可重放", "only the operator role may replay"],
    "masked": ["原始行已按分级脱敏", "original rows masked by classification"],
    "all.departments": ["全部部门", "all departments"],
    "all.tables": ["全部表", "all tables"],
    "all.rules": ["全部规则", "all rules"],
    "compat": ["兼容级别", "compatibility"],
    "diff.from": ["从版本", "from version"], "diff.to": ["到版本", "to version"],
    "diff.changed": ["变更行数", "changed lines"],
    "none": ["无", "none"],
    "unavailable": ["暂不可用：", "unavailable:"],
    "health.ok": ["正常", "ok"], "health.warn": ["告警", "warning"],
    "health.bad": ["故障", "failing"], "health.unknown": ["未知", "unknown"],
    "topology": ["拓扑", "Topology"],
    "rebuild": ["重建进度", "rebuild"],
    "who": ["登录身份：", "signed in as "],
    "nav.messages": ["消息", "Messages"],
    "col.action": ["操作", "action"],
    "rebuild.start": ["从日志重建", "Rebuild from the log"],
    "job.running": ["重建中", "rebuilding"], "job.done": ["重建完成", "rebuilt"],
    "job.failed": ["重建失败", "rebuild failed"],
    "nav.catalog": ["目录与血缘", "Catalog & lineage"],
    "nav.audit": ["审计", "Audit"],
    "col.offset": ["起始位点", "from offset"],
    "col.value": ["内容", "value"], "col.type": ["事件类型", "event type"],
    "col.dataset": ["数据集", "dataset"], "col.classification": ["分级", "classification"],
    "col.owner": ["责任部门", "owner"], "col.field": ["字段", "field"],
    "col.client": ["客户端", "client"], "col.endpoint": ["接口", "endpoint"],
    "col.day": ["日期", "day"], "col.records": ["记录数", "records"],
    "read": ["读取", "Read"], "search": ["搜索", "Search"],
    "lineage.up": ["上游（来源）", "upstream (sources)"],
    "lineage.down": ["下游（去向）", "downstream (uses)"],
    "messages.info": ["位点 {begin}–{end}，显示 {count} 条", "offsets {begin}–{end}, {count} shown"],
    "audit.summary": ["审计记录 {records} 条，{chains} 条哈希链，最近 {last}",
                      "{records} audit records in {chains} hash chains, latest {last}"],
  };
  let lang = localStorage.getItem("rongtong.lang") || "zh";
  const index = () => (lang === "en" ? 1 : 0);
  function t(key, values) {
    const entry = labels[key];
    let text = entry ? entry[index()] : key;
    for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, value);
    return text;
  }
  function apply(root) {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    for (const element of (root || document).querySelectorAll("[data-i18n]")) {
      element.textContent = t(element.dataset.i18n);
    }
    for (const element of (root || document).querySelectorAll("[data-i18n-placeholder]")) {
      element.placeholder = t(element.dataset.i18nPlaceholder);
    }
  }
  const listeners = [];
  function toggle() {
    lang = lang === "en" ? "zh" : "en";
    localStorage.setItem("rongtong.lang", lang);
    apply();
    for (const listener of listeners) listener(lang);
  }
  return {t, apply, toggle, onChange: (f) => listeners.push(f), get lang() { return lang; }};
})();
