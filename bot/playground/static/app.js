// renewbot playground: renders the fake Slack channel from the Block Kit JSON the bot sent,
// and turns typing and clicks into requests to the playground server, which signs them like
// Slack and posts them to the bot. Plain JavaScript, no framework, nothing from the internet.
"use strict";

(function () {
  const cfg = window.PLAYGROUND;
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  let me = cfg.people[0].id;
  let last = null; // the latest state from the server
  const cache = new Map(); // item key → {sig, node}
  const openThreads = new Set();
  let followUntil = 0; // the visitor just typed or clicked: keep the bottom, where answers come, in view

  // ---- mrkdwn -------------------------------------------------------------------------------

  const escapeHTML = (s) => s.replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  // Slack escapes only these three in message text.
  const unescapeSlack = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

  // token renders one <...> escape of Slack's message format as HTML.
  function token(inner) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? inner.slice(bar + 1) : "";
    if (target.startsWith("@")) {
      const id = target.slice(1);
      return `<span class="mention">@${escapeHTML(cfg.users[id] || label || id)}</span>`;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const name = id === cfg.channel ? cfg.channelName : (label || id);
      return `<span class="mention">#${escapeHTML(name)}</span>`;
    }
    if (target.startsWith("!subteam^")) {
      const id = target.slice("!subteam^".length);
      const handle = (cfg.groups && cfg.groups[id]) || label.replace(/^@/, "") || id;
      return `<span class="mention">@${escapeHTML(handle)}</span>`;
    }
    if (target.startsWith("!date^")) {
      // <!date^UNIX^format|fallback>: Slack shows it in the reader's time zone; the fallback
      // the bot wrote is exact, so it is shown as is.
      const parts = target.split("^");
      const d = new Date(Number(parts[1]) * 1000);
      return `<time datetime="${escapeHTML(d.toISOString())}">${escapeHTML(unescapeSlack(label || d.toUTCString()))}</time>`;
    }
    if (target === "!here" || target === "!channel" || target === "!everyone") {
      return `<span class="mention">@${target.slice(1)}</span>`;
    }
    if (/^(https?:|mailto:)/i.test(target)) {
      const text = label ? unescapeSlack(label) : unescapeSlack(target);
      return `<a href="${escapeHTML(unescapeSlack(target))}" target="_blank" rel="noopener">${escapeHTML(text)}</a>`;
    }
    return escapeHTML(unescapeSlack("<" + inner + ">"));
  }

  // mrkdwn renders Slack's mrkdwn as HTML: *bold*, _italic_, ~strike~, `code`, ```pre```,
  // > quotes, <links>, <@mentions>, <!date> and line breaks. Every piece of text is escaped.
  function mrkdwn(src) {
    const held = [];
    const hold = (html) => "\u0001" + (held.push(html) - 1) + "\u0002";
    let s = String(src || "");
    s = s.replace(/```([\s\S]*?)```/g, (_, code) => hold(`<pre>${escapeHTML(unescapeSlack(code.replace(/<([^<>]*)>/g, "$1")))}</pre>`));
    s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${escapeHTML(unescapeSlack(code))}</code>`));
    s = s.replace(/<([^<>\n]+)>/g, (_, inner) => hold(token(inner)));
    s = escapeHTML(unescapeSlack(s));
    const edge = "(^|[\\s(\\u0002\\u0001>])";
    const end = "(?=$|[\\s).,!?:;\\u0001\\u0002<])";
    s = s.replace(new RegExp(edge + "\\*([^*\\n]+?)\\*" + end, "g"), "$1<b>$2</b>");
    s = s.replace(new RegExp(edge + "_([^_\\n]+?)_" + end, "g"), "$1<i>$2</i>");
    s = s.replace(new RegExp(edge + "~([^~\\n]+?)~" + end, "g"), "$1<s>$2</s>");
    // Lines keep their spaces and breaks (white-space: pre-wrap), as in Slack.
    s = s.split("\n").map((line) => line.startsWith("&gt; ") ? `<blockquote>${line.slice(5)}</blockquote>` : line).join("\n");
    s = s.replace(/<\/blockquote>\n/g, "</blockquote>");
    return s.replace(/\u0001(\d+)\u0002/g, (_, i) => held[Number(i)]);
  }

  function textNode(obj, cls) {
    const n = el("div", cls || "");
    if (!obj) return n;
    if (obj.type === "mrkdwn") {
      n.classList.add("mrkdwn");
      n.innerHTML = mrkdwn(obj.text);
    } else {
      n.textContent = obj.text || "";
    }
    return n;
  }
  const plain = (obj) => (obj && obj.text) || "";

  // ---- Block Kit ----------------------------------------------------------------------------

  function renderBlocks(blocks, where) {
    const out = el("div", "blocks");
    blocks.forEach((b, i) => {
      const blockID = b.block_id || `b${i}`;
      switch (b.type) {
        case "header":
          out.append(el("div", "bk-header", plain(b.text)));
          break;
        case "section": {
          const sec = el("div", "bk-section");
          const body = el("div", "bk-section-body");
          if (b.text) body.append(textNode(b.text));
          if (b.fields && b.fields.length) {
            const f = el("div", "bk-fields");
            b.fields.forEach((t) => f.append(textNode(t)));
            body.append(f);
          }
          sec.append(body);
          if (b.accessory) sec.append(element(b.accessory, blockID, where));
          out.append(sec);
          break;
        }
        case "context": {
          const c = el("div", "bk-context");
          (b.elements || []).forEach((e) => {
            if (e.type === "mrkdwn" || e.type === "plain_text") c.append(textNode(e, "bk-context-item"));
            else if (e.type === "image") c.append(el("span", "", "🖼"));
          });
          out.append(c);
          break;
        }
        case "divider":
          out.append(el("hr", "bk-divider"));
          break;
        case "actions": {
          const a = el("div", "bk-actions");
          (b.elements || []).forEach((e) => a.append(element(e, blockID, where)));
          out.append(a);
          break;
        }
        default:
          out.append(el("div", "bk-unsupported", `[a ${b.type} block, which the playground does not draw]`));
      }
    });
    return out;
  }

  // element renders an interactive element: a button, an overflow menu or a static select.
  function element(e, blockID, where) {
    const base = { action_id: e.action_id, block_id: blockID };
    switch (e.type) {
      case "button": {
        const btn = el("button", "bk-btn" + (e.style ? " " + e.style : ""), plain(e.text));
        btn.type = "button";
        btn.dataset.actionId = e.action_id;
        btn.dataset.value = e.value || "";
        btn.addEventListener("click", () => act(where, Object.assign({
          type: "button", text: e.text, value: e.value || "", style: e.style || "",
        }, base), e.confirm, btn));
        return btn;
      }
      case "overflow": {
        const wrap = el("div", "bk-overflow");
        const btn = el("button", "bk-overflow-btn", "⋯");
        btn.type = "button";
        btn.title = "More actions";
        btn.dataset.actionId = e.action_id;
        const menu = el("div", "bk-menu");
        menu.hidden = true;
        (e.options || []).forEach((o) => {
          const item = el("button", "", plain(o.text));
          item.type = "button";
          item.dataset.value = o.value;
          item.addEventListener("click", () => {
            menu.hidden = true;
            act(where, Object.assign({ type: "overflow", selected_option: { text: o.text, value: o.value } }, base), e.confirm);
          });
          menu.append(item);
        });
        btn.addEventListener("click", (ev) => {
          ev.stopPropagation();
          document.querySelectorAll(".bk-menu").forEach((m) => { if (m !== menu) m.hidden = true; });
          menu.hidden = !menu.hidden;
        });
        wrap.append(btn, menu);
        return wrap;
      }
      case "static_select": {
        const sel = el("select", "bk-select");
        sel.dataset.actionId = e.action_id;
        const ph = el("option", "", plain(e.placeholder) || "Select an item");
        ph.value = "";
        ph.disabled = true;
        ph.selected = true;
        sel.append(ph);
        const byValue = new Map();
        const addOption = (parent, o) => {
          const opt = el("option", "", plain(o.text));
          opt.value = o.value;
          byValue.set(o.value, o);
          parent.append(opt);
        };
        (e.options || []).forEach((o) => addOption(sel, o));
        (e.option_groups || []).forEach((g) => {
          const og = el("optgroup");
          og.label = plain(g.label);
          (g.options || []).forEach((o) => addOption(og, o));
          sel.append(og);
        });
        sel.addEventListener("change", () => {
          const o = byValue.get(sel.value);
          if (!o) return;
          act(where, Object.assign({ type: "static_select", selected_option: { text: o.text, value: o.value } }, base), e.confirm);
        });
        return sel;
      }
      default:
        return el("span", "bk-unsupported", `[${e.type}]`);
    }
  }

  // ---- confirm dialogs ------------------------------------------------------------------------

  function confirmDialog(c) {
    return new Promise((resolve) => {
      const modal = $("#confirm");
      $("#confirm-title").textContent = plain(c.title) || "Are you sure?";
      const text = $("#confirm-text");
      text.innerHTML = c.text && c.text.type === "mrkdwn" ? mrkdwn(c.text.text) : escapeHTML(plain(c.text));
      const ok = $("#confirm-ok");
      const deny = $("#confirm-deny");
      ok.textContent = plain(c.confirm) || "Yes";
      deny.textContent = plain(c.deny) || "Cancel";
      ok.className = c.style === "danger" ? "danger" : "primary";
      const done = (v) => {
        modal.hidden = true;
        ok.onclick = deny.onclick = null;
        resolve(v);
      };
      ok.onclick = () => done(true);
      deny.onclick = () => done(false);
      modal.hidden = false;
      ok.focus();
    });
  }

  // ---- talking to the playground server --------------------------------------------------------

  function say(text, bad, where) {
    const s = where || $("#status");
    s.textContent = text;
    s.classList.toggle("bad", !!bad);
  }

  async function postJSON(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    let data = {};
    try { data = await r.json(); } catch (_) { /* empty answer */ }
    if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
    return data;
  }

  const nameOf = (id) => cfg.users[id] || id;

  async function act(where, action, confirm, btn) {
    if (confirm && !(await confirmDialog(confirm))) return;
    if (btn) btn.disabled = true;
    followUntil = Date.now() + 5000;
    const what = action.type === "button" ? plain(action.text) : plain(action.selected_option.text);
    try {
      const ans = await postJSON("action", { user: me, channel: where.channel, ts: where.ts, ephemeral: !!where.ephemeral, action });
      say(ans.status === 200
        ? `${nameOf(me)} clicked “${what}”: renewbot acknowledged (HTTP 200); its answer follows in the channel.`
        : `${nameOf(me)} clicked “${what}”: renewbot answered ${ans.status || ans.error}.`, ans.status !== 200);
    } catch (err) {
      say(`“${what}” failed: ${err.message}`, true);
    } finally {
      if (btn) btn.disabled = false;
    }
  }

  async function sendCommand(text) {
    followUntil = Date.now() + 5000;
    try {
      const ans = await postJSON("command", { user: me, text });
      say(ans.status === 200 ? `${nameOf(me)} sent ${text}: renewbot acknowledged (HTTP 200).` :
        `${nameOf(me)} sent ${text}: renewbot answered ${ans.status || ans.error}.`, ans.status !== 200);
    } catch (err) {
      say(`${text} failed: ${err.message}`, true);
    }
  }

  // ---- the channel ------------------------------------------------------------------------------

  const timeOf = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function renderItem(it) {
    const where = { channel: it.channel, ts: it.ts || "", ephemeral: it.kind === "ephemeral" };
    const row = el("div", "msg " + it.kind);
    row.dataset.key = it.key;
    if (it.ts) row.dataset.ts = it.ts;
    const bot = it.user === "U0BOT" || it.kind === "ephemeral";
    const av = el("span", "avatar" + (bot ? " bot" : ""), bot ? "RB" : nameOf(it.user).slice(0, 1));
    const body = el("div", "msg-body");
    const head = el("div", "msg-head");
    head.append(el("b", "", bot ? "renewbot" : nameOf(it.user)));
    if (bot) head.append(el("span", "app-badge", "APP"));
    head.append(el("span", "msg-time", timeOf(it.at)));
    if (it.edits) {
      const e = el("span", "edited", "(edited)");
      e.title = `updated in place ${it.edits} time(s)`;
      head.append(e);
    }
    if (it.kind === "ephemeral") head.append(el("span", "eph-note", "👁 Only visible to you"));
    body.append(head);
    if (it.command) {
      const u = el("div", "used-command");
      u.append(document.createTextNode("you used "), el("code", "", it.command));
      body.append(u);
    }
    if (it.file) {
      if (it.text) body.append(textNode({ type: "mrkdwn", text: it.text }));
      const a = el("a", "file");
      a.href = it.file.url;
      a.target = "_blank";
      a.append(el("span", "icon", "CSV"), el("span", "", `${it.file.title} (${it.file.bytes} bytes)`));
      body.append(a);
    } else if (it.blocks && it.blocks.length) {
      body.append(renderBlocks(it.blocks, where));
    } else {
      body.append(textNode({ type: "mrkdwn", text: it.text }));
    }
    if (it.replies && it.replies.length) {
      const th = el("details", "thread");
      th.open = openThreads.has(it.key);
      th.addEventListener("toggle", () => { if (th.open) openThreads.add(it.key); else openThreads.delete(it.key); });
      th.append(el("summary", "", `${it.replies.length} ${it.replies.length === 1 ? "reply" : "replies"} in the thread`));
      it.replies.forEach((r) => th.append(renderItem(r)));
      body.append(th);
    }
    row.append(av, body);
    return row;
  }

  function renderChannel(items) {
    const box = $("#messages");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const visible = items.filter((it) => it.kind !== "ephemeral" || it.user === me);
    const keep = new Set();
    let prev = null;
    for (const it of visible) {
      const sig = JSON.stringify(it);
      let c = cache.get(it.key);
      if (!c || c.sig !== sig) {
        const node = renderItem(it);
        if (c) c.node.replaceWith(node);
        c = { sig, node };
        cache.set(it.key, c);
      }
      keep.add(it.key);
      const want = prev ? prev.nextSibling : box.firstChild;
      if (want !== c.node) box.insertBefore(c.node, want);
      prev = c.node;
    }
    for (const [k, c] of cache) {
      if (!keep.has(k)) { c.node.remove(); cache.delete(k); }
    }
    let empty = box.querySelector(".empty");
    if (!visible.length && !empty) {
      empty = el("div", "empty", `Nothing in #${cfg.channelName} yet. Type ${cfg.command} help below, or run the digest.`);
      box.append(empty);
    } else if (visible.length && empty) {
      empty.remove();
    }
    if (nearBottom || Date.now() < followUntil) box.scrollTop = box.scrollHeight;
  }

  // ---- the emulator panel -------------------------------------------------------------------------

  const money = (v, cur) => (cur === "CNY" ? "¥" : "") + Number(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " " + (cur || "");
  let seenOrders = null;

  function renderSim(sim) {
    if (!sim || !$("#sim-now")) return;
    $("#sim-error").textContent = sim.error || "";
    if (sim.error) return;
    const now = new Date(sim.now);
    $("#sim-now").textContent = now.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    $("#sim-balance").textContent = money(sim.balance, sim.currency);
    $("#order-count").textContent = `(${sim.orders.length})`;
    const tbody = $("#orders tbody");
    tbody.textContent = "";
    const fresh = seenOrders ? sim.orders.filter((o) => !seenOrders.has(o.OrderId)).map((o) => o.OrderId) : [];
    seenOrders = new Set(sim.orders.map((o) => o.OrderId));
    sim.orders.slice().reverse().forEach((o) => {
      const tr = el("tr", fresh.includes(o.OrderId) ? "fresh" : "");
      tr.dataset.orderId = o.OrderId;
      tr.title = `ClientToken ${o.ClientToken || "(none)"} · ${o.Time}`;
      const inst = el("td", "", o.InstanceId);
      if (o.AutoRenew) inst.append(el("div", "auto", "auto-renew deduction"));
      tr.append(el("td", "", o.OrderId), inst, el("td", "", `${o.Period} ${o.PeriodUnit}`), el("td", "num", money(o.Amount, o.Currency)));
      tbody.append(tr);
    });
    const to = $("#clock-to");
    if (to && document.activeElement !== to) to.value = sim.now.slice(0, 16);
  }

  // ---- modals (views.open / views.update): the request and reject forms ---------------------

  let shown = null;      // {id, hash} of the modal on screen
  let values = {};       // block_id → action_id → value, what the person entered
  let inputErrors = {};  // block_id → message, from response_action: errors

  function collect(view) {
    const out = {};
    (view.blocks || []).forEach((b) => {
      if (b.type !== "input" || !b.element) return;
      const v = (values[b.block_id] || {})[b.element.action_id];
      if (v !== undefined && v !== "") out[b.block_id] = { [b.element.action_id]: v };
    });
    return out;
  }

  function setValue(b, v) {
    values[b.block_id] = values[b.block_id] || {};
    values[b.block_id][b.element.action_id] = v;
  }

  async function viewCall(body) {
    return postJSON("view", Object.assign({ user: me, view_id: shown.id }, body));
  }

  async function dispatch(view, b, v) {
    setValue(b, v);
    if (!b.dispatch_action) return;
    try {
      await viewCall({ kind: "action", block_id: b.block_id, action_id: b.element.action_id, value: v, values: collect(view) });
    } catch (err) { $("#view-error").textContent = err.message; }
  }

  function optionNode(o) {
    const opt = el("option", "", plain(o.text));
    opt.value = o.value;
    return opt;
  }

  function inputBlock(view, b) {
    const e = b.element || {};
    const wrap = el("div", "bk-input");
    wrap.dataset.blockId = b.block_id;
    const id = `in-${b.block_id}`;
    const label = el("label", "", plain(b.label));
    label.htmlFor = id;
    if (b.optional) label.append(el("span", "optional", " (optional)"));
    wrap.append(label);
    const cur = (values[b.block_id] || {})[e.action_id];
    let control;
    switch (e.type) {
      case "plain_text_input": {
        control = el(e.multiline ? "textarea" : "input");
        if (e.max_length) control.maxLength = e.max_length;
        control.placeholder = plain(e.placeholder);
        control.value = cur !== undefined ? cur : (e.initial_value || "");
        control.addEventListener("input", () => setValue(b, control.value));
        break;
      }
      case "static_select": {
        control = el("select");
        const ph = el("option", "", plain(e.placeholder) || "Select an item");
        ph.value = "";
        control.append(ph);
        (e.options || []).forEach((o) => control.append(optionNode(o)));
        control.value = cur !== undefined ? cur : (e.initial_option ? e.initial_option.value : "");
        if (cur === undefined && e.initial_option) setValue(b, e.initial_option.value);
        control.addEventListener("change", () => dispatch(view, b, control.value));
        break;
      }
      case "external_select": {
        control = el("div", "external");
        const search = el("input");
        search.type = "search";
        search.id = id + "-search";
        search.placeholder = plain(e.placeholder) || "Search";
        const sel = el("select");
        sel.id = id;
        const ph = el("option", "", "Type to search, then pick");
        ph.value = "";
        sel.append(ph);
        if (e.initial_option) {
          sel.append(optionNode(e.initial_option));
          if (cur === undefined) setValue(b, e.initial_option.value);
        }
        const picked = cur !== undefined ? cur : (e.initial_option ? e.initial_option.value : "");
        if (picked && ![...sel.options].some((o) => o.value === picked)) sel.append(optionNode({ text: { text: picked }, value: picked }));
        sel.value = picked;
        let timer = null;
        const suggest = async () => {
          try {
            const ans = await viewCall({ kind: "suggest", block_id: b.block_id, action_id: e.action_id, query: search.value });
            const keep = sel.value;
            sel.textContent = "";
            const head = el("option", "", `${ans.options.length} match${ans.options.length === 1 ? "" : "es"}`);
            head.value = "";
            sel.append(head);
            ans.options.forEach((o) => sel.append(optionNode(o)));
            sel.value = ans.options.some((o) => o.value === keep) ? keep : "";
          } catch (err) { $("#view-error").textContent = err.message; }
        };
        search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 200); });
        sel.addEventListener("change", () => { if (sel.value) dispatch(view, b, sel.value); });
        control.append(search, sel);
        break;
      }
      case "conversations_select":
      case "channels_select": {
        control = el("select");
        const ph = el("option", "", plain(e.placeholder) || "Pick a channel");
        ph.value = "";
        control.append(ph, optionNode({ text: { text: "#" + cfg.channelName }, value: cfg.channel }));
        const init = e.initial_conversation || e.initial_channel || "";
        control.value = cur !== undefined ? cur : (init === cfg.channel ? init : "");
        if (cur === undefined && control.value) setValue(b, control.value);
        control.addEventListener("change", () => setValue(b, control.value));
        break;
      }
      default:
        control = el("span", "bk-unsupported", `[${e.type}]`);
    }
    if (control.tagName !== "DIV") control.id = id;
    wrap.append(control);
    if (b.hint) wrap.append(el("div", "hint", plain(b.hint)));
    if (inputErrors[b.block_id]) wrap.append(el("div", "input-error", inputErrors[b.block_id]));
    return wrap;
  }

  function renderModal(modals, force) {
    const m = (modals || []).filter((x) => x.user === me).pop();
    const box = $("#view-modal");
    if (!m) {
      box.hidden = true;
      shown = null;
      return;
    }
    const view = m.view;
    if (!force && shown && shown.id === m.id && shown.hash === view.hash && !box.hidden) return; // keep what is typed
    if (!shown || shown.id !== m.id) { values = {}; inputErrors = {}; }
    shown = { id: m.id, hash: view.hash, view };
    $("#view-title").textContent = plain(view.title);
    $("#view-submit").textContent = plain(view.submit) || "Submit";
    $("#view-close").textContent = plain(view.close) || "Cancel";
    $("#view-error").textContent = "";
    const body = $("#view-body");
    body.textContent = "";
    (view.blocks || []).forEach((b) => {
      if (b.type === "input") body.append(inputBlock(view, b));
      else body.append(renderBlocks([b], { channel: cfg.channel, ts: "" }));
    });
    box.hidden = false;
  }

  $("#view-modal form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!shown) return;
    try {
      const ans = await viewCall({ kind: "submit", values: collect(shown.view) });
      inputErrors = ans.errors || {};
      if (Object.keys(inputErrors).length) {
        renderModal([{ id: shown.id, user: me, view: shown.view }], true); // again, with the errors and the values
      }
    } catch (err) { $("#view-error").textContent = err.message; }
  });
  $("#view-close").addEventListener("click", async () => {
    if (!shown) return;
    try { await viewCall({ kind: "close" }); } catch (err) { $("#view-error").textContent = err.message; }
  });

  function render(st) {
    last = st;
    renderChannel(st.items);
    renderSim(st.sim);
    renderModal(st.modals);
  }

  // ---- wiring ---------------------------------------------------------------------------------

  function choose(id) {
    me = id;
    document.querySelectorAll(".person").forEach((b) => b.setAttribute("aria-checked", String(b.dataset.user === id)));
    const p = cfg.people.find((x) => x.id === id);
    $("#composer-as").textContent = `as ${p.name}`;
    cache.clear();
    $("#messages").textContent = "";
    if (last) render(last);
  }

  document.querySelectorAll(".person").forEach((b) => b.addEventListener("click", () => choose(b.dataset.user)));
  document.addEventListener("click", () => document.querySelectorAll(".bk-menu").forEach((m) => { m.hidden = true; }));

  (cfg.examples || []).forEach((ex) => {
    const b = el("button", "example", ex);
    b.type = "button";
    b.addEventListener("click", () => { $("#command").value = ex; $("#command").focus(); });
    $("#examples").append(b);
  });

  $("#composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("#command");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendCommand(text.startsWith("/") ? text : `${cfg.command} ${text}`);
  });

  document.querySelectorAll("button.clock").forEach((b) => b.addEventListener("click", async () => {
    try {
      const ans = await postJSON("clock", { Advance: b.dataset.advance });
      say(`The emulator's clock is now ${ans.Now}.`, false);
    } catch (err) {
      say(`Clock: ${err.message}`, true);
    }
  }));
  const setForm = $("#clock-set");
  if (setForm) setForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = $("#clock-to").value;
    if (!v) return;
    try {
      const ans = await postJSON("clock", { Now: new Date(v + "Z").toISOString().replace(".000Z", "Z") });
      say(`The emulator's clock is now ${ans.Now}.`, false);
    } catch (err) {
      say(`Clock: ${err.message}`, true);
    }
  });
  const digest = $("#run-digest");
  if (digest) digest.addEventListener("click", async () => {
    digest.disabled = true;
    say("Running the digest…", false, $("#digest-status"));
    try {
      await postJSON("digest", {});
      say("Digest posted.", false, $("#digest-status"));
    } catch (err) {
      say(`Digest: ${err.message}`, true, $("#digest-status"));
    } finally {
      digest.disabled = false;
    }
  });

  // Live updates: server-sent events; polling where EventSource is missing.
  const conn = $("#conn");
  function live() {
    if (!window.EventSource) {
      const poll = async () => {
        try { render(await (await fetch("state")).json()); conn.textContent = "live (polling)"; conn.className = "conn live"; } catch (_) { conn.textContent = "disconnected"; conn.className = "conn down"; }
        setTimeout(poll, 1000);
      };
      poll();
      return;
    }
    const es = new EventSource("events");
    es.onopen = () => { conn.textContent = "● live"; conn.className = "conn live"; };
    es.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "conn down"; };
    es.onmessage = (ev) => render(JSON.parse(ev.data));
  }

  choose(me);
  live();
})();
