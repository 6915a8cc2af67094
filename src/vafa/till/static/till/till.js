/* The till in the browser: keyboard shortcuts, the service worker, and offline purchases.
   Offline purchases live in IndexedDB with their idempotency keys until the server has answered; they are sent
   in order by one tab at a time (Web Locks), other tabs hear about it (BroadcastChannel), and the server's
   idempotency makes a resend after a reload or a lost answer the same purchase, never a second one. */
(function () {
  "use strict";
  const body = document.body;
  const branch = body.dataset.branch;
  const PERSIAN = "۰۱۲۳۴۵۶۷۸۹", ARABIC = "٠١٢٣٤٥٦٧٨٩";
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("vafa-till") : null;

  function ascii(text) {
    return String(text || "").replace(/[۰-۹]/g, (d) => PERSIAN.indexOf(d)).replace(/[٠-٩]/g, (d) => ARABIC.indexOf(d));
  }
  function amount(text) {
    const clean = ascii(text).replace(/[,٬\s]/g, "");
    return /^\d+$/.test(clean) ? parseInt(clean, 10) : null;
  }
  function fa(n) {
    return Number(n).toLocaleString("fa-IR");
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const T = (document.getElementById("till-texts") || {}).dataset || {}; // the page's translated texts

  /* --- the service worker ------------------------------------------------------------------------- */
  if ("serviceWorker" in navigator && body.dataset.sw) {
    navigator.serviceWorker.register(body.dataset.sw, { scope: "/till/" }).catch(() => {});
    // a marker the browser tests read: this page is served through the worker
    body.dataset.swState = navigator.serviceWorker.controller ? "controlled" : "registered";
    navigator.serviceWorker.ready.then(() => {
      if (!navigator.serviceWorker.controller) body.dataset.swState = "ready";
    });
  }

  /* --- online / offline ----------------------------------------------------------------------------- */
  const net = document.getElementById("net");
  function showNet() {
    if (!net) return;
    net.textContent = navigator.onLine ? net.dataset.online : net.dataset.offline;
    net.classList.toggle("offline", !navigator.onLine);
    net.dataset.state = navigator.onLine ? "online" : "offline";
  }
  showNet();

  /* --- the queue in IndexedDB ----------------------------------------------------------------------- */
  function db() {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open("vafa-till", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  async function store(mode, work) {
    const conn = await db();
    return new Promise((resolve, reject) => {
      const tx = conn.transaction("queue", mode);
      const result = work(tx.objectStore("queue"));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
    });
  }
  const queued = () => store("readonly", (s) => s.getAll());
  const enqueue = (item) => store("readwrite", (s) => s.add(item));
  const dequeue = (seq) => store("readwrite", (s) => s.delete(seq));

  async function showQueue() {
    const box = document.getElementById("queue");
    if (!box) return;
    const items = (await queued()).filter((i) => i.branch === branch);
    box.replaceChildren();
    box.classList.toggle("d-none", items.length === 0);
    if (!items.length) return;
    box.appendChild(el("strong", {}, box.dataset.label + " (" + fa(items.length) + ")"));
    const list = el("ul", { class: "mb-0 small", "data-testid": "waiting" });
    items.forEach((i) => list.appendChild(el("li", { dir: "auto" }, i.name + " · " + i.receipt + " · " + fa(i.total)
                                                 + (i.redeem_wallet ? " · " + T.walletShort + " " + fa(i.redeem_wallet) : ""))));
    box.appendChild(list);
  }

  async function sendOne(item) {
    const response = await fetch("/till/" + item.branch + "/sync", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": body.dataset.csrf },
      body: JSON.stringify({ key: item.key, member_id: item.member_id, receipt: item.receipt, total: item.total,
                             redeem_wallet: item.redeem_wallet || 0, occurred_at: item.occurred_at }),
    });
    if (!response.ok) throw new Error("sync " + response.status);
    return response.json(); // "sent" or "problem": either way the server has it now
  }

  async function flush() {
    if (!navigator.onLine) return;
    const run = async () => {
      for (const item of await queued()) {
        if (item.branch !== branch) continue;
        try {
          await sendOne(item);
        } catch (error) {
          return; // still unreachable: keep it, in order, for the next try
        }
        await dequeue(item.seq);
        if (channel) channel.postMessage("changed");
        await showQueue();
      }
    };
    if (navigator.locks) await navigator.locks.request("vafa-till-sync", run);
    else await run();
  }
  if (channel) channel.onmessage = () => showQueue();
  window.addEventListener("online", () => { showNet(); flush(); });
  window.addEventListener("offline", showNet);
  if (branch) showQueue().then(flush);

  /* --- the offline cache of the branch's members ---------------------------------------------------- */
  const cacheKey = "vafa-till-cache-" + branch;
  if (branch && navigator.onLine) {
    fetch("/till/" + branch + "/cache.json", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data) return;
        localStorage.setItem(cacheKey, JSON.stringify(data));
        body.dataset.cache = "fresh"; // a marker the browser tests wait for before going offline
      })
      .catch(() => {});
  }
  function cached() {
    const none = { members: [], earn: [], multipliers: {}, allowance: 0 };
    try { return JSON.parse(localStorage.getItem(cacheKey)) || none; }
    catch (e) { return none; }
  }
  function mobileKey(text) {
    let digits = ascii(text).replace(/[^\d]/g, "");
    if (digits.startsWith("0098")) digits = digits.slice(4);
    else if (digits.startsWith("98")) digits = digits.slice(2);
    else if (digits.startsWith("0")) digits = digits.slice(1);
    return digits.length === 10 ? "+98" + digits : null;
  }
  function lookUp(text) {
    const typed = ascii(text).trim();
    const members = cached().members;
    const mobile = mobileKey(typed);
    return members.find((m) => (mobile && m.mobile === mobile) || m.cards.includes(typed)
                                || m.code === typed.toUpperCase()) || null;
  }
  function estimate(member, total) {
    const data = cached();
    const factor = data.multipliers[member.tier] || 1;
    return data.earn.reduce((sum, rule) => sum + Math.floor(total / rule.per) * rule.award, 0) * factor;
  }

  /* Keeps a purchase on the device; answers the reason it cannot (points or gift credit offline, wallet credit
     above the business's offline allowance, missing fields, blocked). The allowance is per member: what this
     device already holds for the member counts; the server checks it again when the purchase is sent. */
  async function queuePurchase(member, receiptText, totalText, otherSpendText, walletText) {
    const value = amount(totalText);
    const wallet = amount(walletText) || 0;
    if (amount(otherSpendText)) return T.noPoints;
    if (!value) return T.missing;
    if (member.blocked) return T.blocked;
    if (wallet) {
      const held = (await queued()).filter((i) => i.member_id === member.id)
        .reduce((sum, i) => sum + (i.redeem_wallet || 0), 0);
      const allowance = cached().allowance || 0;
      if (wallet > value) return T.walletOverTotal;
      if (held + wallet > allowance) return T.overAllowance.replace("%s", fa(Math.max(allowance - held, 0)));
    }
    const key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/-/g, "");
    // no receipt number: the key names the purchase, as the online form does
    const receipt = ascii(String(receiptText).trim()) || "T-" + key.slice(0, 16);
    await enqueue({ key: "till-" + key, branch: branch, member_id: member.id, name: member.name,
                    receipt: receipt, total: value, redeem_wallet: wallet, occurred_at: new Date().toISOString() });
    if (channel) channel.postMessage("changed");
    await showQueue();
    flush();
    return null;
  }

  function offlinePurchase(member) {
    const box = document.getElementById("offline-find");
    box.replaceChildren();
    box.classList.remove("d-none");
    const form = el("form", { class: "card card-body mb-3", "data-testid": "offline-purchase", autocomplete: "off" });
    form.appendChild(el("h2", { class: "h6" }, member.name + " — " + T.offlineTitle));
    if (member.blocked) form.appendChild(el("div", { class: "alert alert-danger py-1" }, T.blocked));
    const field = (name, label, attrs) => {
      const wrap = el("div", { class: "mb-2" });
      wrap.appendChild(el("label", { class: "form-label small mb-0", for: "off-" + name }, label));
      const input = el("input", Object.assign({ class: "form-control", id: "off-" + name, name: name,
                                                 "data-testid": "offline-" + name }, attrs || {}));
      wrap.appendChild(input);
      form.appendChild(wrap);
      return input;
    };
    const receipt = field("receipt", T.receipt, { dir: "ltr" });
    const total = field("total", T.amount, { inputmode: "numeric" });
    const points = field("points", T.points, { inputmode: "numeric" });
    const wallet = field("wallet", T.wallet, { inputmode: "numeric" });
    const note = el("div", { class: "small text-secondary mb-2", "data-testid": "offline-estimate" });
    const error = el("div", { class: "text-danger small mb-2", "data-testid": "offline-error", role: "alert" });
    form.append(note, error, el("button", { class: "btn btn-primary btn-lg", "data-testid": "offline-confirm" }, T.confirm));
    box.appendChild(form);
    form.addEventListener("input", () => {
      const value = amount(total.value);
      note.textContent = value ? T.estimate.replace("%s", fa(estimate(member, value))) : "";
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = (await queuePurchase(member, receipt.value, total.value, points.value, wallet.value)) || "";
      if (error.textContent) return;
      box.replaceChildren(el("div", { class: "alert alert-success", "data-testid": "offline-saved" }, T.saved));
      document.getElementById("id_q").value = "";
      document.getElementById("id_q").focus();
    });
    total.focus();
  }

  const find = document.getElementById("find");
  if (find) {
    find.addEventListener("submit", (event) => {
      if (navigator.onLine) return;
      event.preventDefault();
      const member = lookUp(document.getElementById("id_q").value);
      if (member) offlinePurchase(member);
      else {
        const box = document.getElementById("offline-find");
        box.classList.remove("d-none");
        box.replaceChildren(el("div", { class: "alert alert-warning", "data-testid": "offline-unknown" }, T.unknown));
      }
    });
  }

  /* --- the camera: the member's QR code from the portal (their card number or member code) -------------
     Frames are drawn to a canvas and read by jsQR (vendored; plain JS, so the CSP needs no eval, no worker and
     no blob: source). What it reads goes into the find box and is submitted as if typed, online or offline. */
  const scan = document.getElementById("scan");
  if (scan && find && window.jsQR && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    scan.classList.remove("d-none");
    const box = document.getElementById("scanner");
    const video = document.getElementById("scanner-video");
    const status = document.getElementById("scanner-status");
    const canvas = document.createElement("canvas");
    const context2d = canvas.getContext("2d", { willReadFrequently: true });
    let stream = null;
    const stop = () => {
      if (stream) stream.getTracks().forEach((track) => track.stop());
      stream = null;
      video.srcObject = null;
      box.classList.add("d-none");
    };
    const look = () => {
      if (!stream) return;
      if (video.readyState >= 2 && video.videoWidth) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context2d.drawImage(video, 0, 0, canvas.width, canvas.height);
        const image = context2d.getImageData(0, 0, canvas.width, canvas.height);
        const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
        if (code && code.data.trim()) {
          stop();
          const input = document.getElementById("id_q");
          input.value = code.data.trim();
          find.requestSubmit();
          return;
        }
      }
      setTimeout(look, 150);
    };
    scan.addEventListener("click", async () => {
      box.classList.remove("d-none");
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      } catch (error) {
        status.textContent = T.noCamera;
        box.dataset.state = "no-camera";
        return;
      }
      video.srcObject = stream;
      await video.play().catch(() => {});
      box.dataset.state = "scanning";
      look();
    });
    document.getElementById("scan-stop").addEventListener("click", stop);
  }

  /* --- the member page when the connection drops: the same queue, an estimate instead of the preview ------- */
  const purchase = document.getElementById("purchase");
  if (purchase) {
    const member = { id: parseInt(purchase.dataset.member, 10), name: purchase.dataset.name,
                     tier: purchase.dataset.tier, blocked: purchase.dataset.blocked === "1" };
    const field = (name) => purchase.querySelector("[name=" + name + "]");
    // offline only the wallet may be spent (within the allowance): points, gift credit and gift cards may not
    const other = () => ["redeem_points", "redeem_gift_credit", "gift_card_amount"]
      .reduce((sum, name) => sum + (amount(field(name).value) || 0), 0) + (field("gift_card_code").value.trim() ? 1 : 0);
    document.body.addEventListener("htmx:sendError", () => {
      const value = amount(field("total").value);
      const preview = document.getElementById("preview");
      preview.replaceChildren(el("div", { class: "small text-secondary", "data-testid": "offline-estimate" },
                                 value ? T.estimate.replace("%s", fa(estimate(member, value))) : ""));
    });
    purchase.addEventListener("submit", async (event) => {
      if (navigator.onLine) return;
      event.preventDefault();
      const reason = await queuePurchase(member, field("receipt").value, field("total").value, other() ? "1" : "",
                                         field("redeem_wallet").value);
      const preview = document.getElementById("preview");
      preview.replaceChildren(el("div", { class: reason ? "text-danger small" : "alert alert-success",
                                          "data-testid": reason ? "offline-error" : "offline-saved", role: "alert" },
                                 reason || T.saved));
    });
  }

  /* --- keyboard: Escape goes back to the find box ---------------------------------------------------- */
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && branch) window.location.href = "/till/" + branch + "/";
  });
})();
