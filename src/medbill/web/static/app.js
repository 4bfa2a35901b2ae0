/* medbill web: idle-timeout warning, sign-out state clearing, the coding workbench (no inline scripts: CSP). */
(function () {
  "use strict";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = csrfMeta ? csrfMeta.content : "";

  // ------------------------------------------------------------------ idle timeout
  var idle = parseInt(document.body.dataset.idle || "0", 10);
  var warn = parseInt(document.body.dataset.warn || "120", 10);
  if (idle > 0) {
    var started = Date.now();
    var box = document.getElementById("idle-warning");
    var left = document.getElementById("idle-left");
    var tick = function () {
      var remaining = idle - Math.floor((Date.now() - started) / 1000);
      if (remaining <= 0) {
        var flag = document.getElementById("expired-flag");
        if (flag) { flag.value = "1"; }
        clearState();
        document.getElementById("signout").submit();
        return;
      }
      if (remaining <= warn) { box.hidden = false; left.textContent = String(remaining); }
      setTimeout(tick, 1000);
    };
    setTimeout(tick, 1000);
    var stay = document.getElementById("idle-stay");
    if (stay) {
      stay.addEventListener("click", function () {
        fetch("/web/ping", { credentials: "same-origin" }).then(function (r) {
          if (r.ok) { started = Date.now(); box.hidden = true; } else { window.location = "/web/login?expired=1"; }
        });
      });
    }
  }
  function clearState() {
    try { sessionStorage.clear(); localStorage.clear(); } catch (e) { /* storage may be disabled */ }
    document.querySelectorAll("main form").forEach(function (f) { f.reset(); });
  }
  var signout = document.getElementById("signout");
  if (signout) { signout.addEventListener("submit", clearState); }

  // ------------------------------------------------------------------ workbench
  var panel = document.getElementById("sugpanel");
  var codesForm = document.getElementById("codes-form");
  var focused = -1;

  function sugs() { return Array.prototype.slice.call(document.querySelectorAll("#suggestions .sug")); }

  function addRow(targetId) {
    var body = document.getElementById(targetId);
    var rows = body.children;
    var last = rows[rows.length - 1];
    var copy = last.cloneNode(true);
    copy.querySelectorAll("input").forEach(function (i) { i.value = i.name === "px_units" ? "1" : ""; });
    copy.querySelectorAll(".sr").forEach(function (s) { s.textContent = s.textContent.replace(/\d+/, String(rows.length + 1)); });
    body.appendChild(copy);
    return copy;
  }

  function addCode(code, system) {
    if (!codesForm) { return; }
    if (system === "ICD10CM") {
      var inputs = codesForm.querySelectorAll('input[name="dx_code"]');
      for (var i = 0; i < inputs.length; i++) { if (inputs[i].value.replace(".", "") === code.replace(".", "")) { return; } }
      for (var j = 0; j < inputs.length; j++) { if (!inputs[j].value) { inputs[j].value = code; return; } }
      addRow("dx-rows").querySelector("input").value = code;
      return;
    }
    var rows = codesForm.querySelectorAll("#px-rows tr");
    var row = null;
    for (var k = 0; k < rows.length; k++) { if (!rows[k].querySelector('input[name="px_code"]').value) { row = rows[k]; break; } }
    if (!row) { row = addRow("px-rows"); }
    row.querySelector('input[name="px_code"]').value = code.replace(".", "");
    row.querySelector('select[name="px_system"]').value = system === "ICD10PCS" ? "ICD10PCS" : (system === "HCPCS" ? "HCPCS" : "CPT");
  }

  function focusSug(i) {
    var list = sugs();
    if (!list.length) { return; }
    focused = Math.max(0, Math.min(list.length - 1, i));
    list[focused].focus();
    document.querySelectorAll("#note mark").forEach(function (m) {
      var ids = (m.dataset.s || "").split(" ");
      m.classList.toggle("focus", ids.indexOf(String(focused)) >= 0);
    });
  }

  function decide(form) {
    var li = form.closest(".sug");
    var data = new FormData(form);
    return fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRF-Token": CSRF }
    }).then(function (r) {
      if (!r.ok) { li.classList.add("failed"); return; }
      var accepted = data.get("accepted") === "1";
      li.classList.toggle("accepted", accepted);
      li.classList.toggle("rejected", !accepted);
      if (accepted) { addCode(li.dataset.code, li.dataset.system); }
    });
  }

  function loadDetail(href) {
    var box = document.getElementById("code-detail");
    if (!box) { window.location = href; return; }
    fetch(href + (href.indexOf("?") < 0 ? "?" : "&") + "part=1", { credentials: "same-origin" })
      .then(function (r) { return r.text(); }).then(function (html) { box.innerHTML = html; });
  }

  function wire(root) {
    root.querySelectorAll("form.decide").forEach(function (f) {
      f.addEventListener("submit", function (ev) { ev.preventDefault(); decide(f); });
    });
    root.querySelectorAll("a.detail-link").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        if (!document.getElementById("code-detail")) { return; }
        ev.preventDefault(); loadDetail(a.getAttribute("href"));
      });
    });
    root.querySelectorAll("button.add-code").forEach(function (b) {
      b.addEventListener("click", function () { addCode(b.dataset.code, b.dataset.system); });
    });
    root.querySelectorAll(".sug").forEach(function (li, i) {
      li.addEventListener("focus", function () { if (focused !== i) { focusSug(i); } });
    });
  }

  if (panel && panel.dataset.src) {
    fetch(panel.dataset.src, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("suggestions " + r.status); }
      return r.text();
    }).then(function (html) {
      panel.innerHTML = html;
      panel.dataset.loaded = "1";
      wire(panel);
    }).catch(function () {
      var p = document.getElementById("sug-loading");
      if (p) { p.textContent = "Suggestions could not be loaded."; }
      panel.dataset.loaded = "error";
    });
  }
  document.querySelectorAll(".add-row").forEach(function (b) {
    b.addEventListener("click", function () { addRow(b.dataset.target); });
  });
  var search = document.getElementById("code-search");
  if (search) {
    search.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var params = new URLSearchParams(new FormData(search));
      params.set("part", "1");
      fetch("/web/codes?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var box = document.getElementById("code-results");
          box.innerHTML = html; wire(box);
        });
    });
  }
  wire(document);

  document.addEventListener("keydown", function (ev) {
    if ((ev.ctrlKey || ev.metaKey) && (ev.key === "s" || ev.key === "S")) {
      var form = document.getElementById("codes-form") || document.getElementById("claim-form");
      if (form) { ev.preventDefault(); form.requestSubmit(); }
      return;
    }
    var t = ev.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (ev.key === "/") {
      var q = document.getElementById("code-q") || document.getElementById("q");
      if (q) { ev.preventDefault(); q.focus(); }
      return;
    }
    if (!panel) { return; }
    var list = sugs();
    if (!list.length) { return; }
    var current = t && t.classList && t.classList.contains("sug") ? list.indexOf(t) : focused;
    if (ev.key === "j" || ev.key === "ArrowDown") { ev.preventDefault(); focusSug(current + 1); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { ev.preventDefault(); focusSug(current - 1); }
    else if ((ev.key === "a" || ev.key === "r") && current >= 0) {
      ev.preventDefault();
      var forms = list[current].querySelectorAll("form.decide");
      decide(forms[ev.key === "a" ? 0 : 1]).then(function () { focusSug(current + 1); });
    }
  });
})();
