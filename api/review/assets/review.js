// The client review page: saves verdicts and comments as the reviewer goes, through the public
// JSON API of this share link. No third-party code; works with keyboard and touch.
(function () {
  "use strict";
  var body = document.body;
  var token = body.dataset.token;
  var closed = body.dataset.closed === "true";
  var api = "/v1/public/reviews/" + encodeURIComponent(token);
  var nameKey = "signoff-reviewer-" + body.dataset.key;
  var nameInput = document.getElementById("reviewer-name");
  var state = { feedback: [] };
  var lastSelection = { pid: "", text: "" };

  function author() { return nameInput ? nameInput.value.trim() : ""; }

  function request(method, path, payload) {
    var opts = { method: method, headers: { "Accept": "application/json" } };
    if (payload !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(payload);
    }
    return fetch(api + path, opts).then(function (res) {
      if (res.status === 204) { return null; }
      return res.json().then(function (data) {
        if (!res.ok) {
          var msg = data && data.error ? data.error.message : "Something went wrong";
          throw new Error(msg);
        }
        return data;
      });
    });
  }

  function text(el, s) { el.textContent = s; return el; }

  function kindLabel(kind) {
    return { approved: "Approved", change_request: "Change requested", note: "Note", line_comment: "Comment" }[kind] || kind;
  }

  function render() {
    document.querySelectorAll(".verdict").forEach(function (group) {
      var target = group.dataset.target;
      var item = state.feedback.find(function (f) { return f.target === target && !f.id && (f.kind === "approved" || f.kind === "change_request"); });
      group.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", item && item.kind === b.dataset.verdict ? "true" : "false");
      });
    });
    document.querySelectorAll("ul.feedback").forEach(function (ul) {
      var target = ul.dataset.for;
      ul.innerHTML = "";
      state.feedback.filter(function (f) { return f.target === target && (f.id || f.comment); }).forEach(function (f) {
        var li = document.createElement("li");
        li.className = "fb " + f.kind;
        li.appendChild(text(document.createElement("strong"), kindLabel(f.kind)));
        if (f.quote) { li.appendChild(text(document.createElement("q"), f.quote)); }
        if (f.comment) { li.appendChild(text(document.createElement("span"), f.comment)); }
        if (f.author) { li.appendChild(text(document.createElement("em"), "— " + f.author)); }
        if (f.id && !closed) {
          var del = text(document.createElement("button"), "Delete");
          del.type = "button";
          del.className = "link";
          del.setAttribute("aria-label", "Delete this comment");
          del.addEventListener("click", function () {
            request("DELETE", "/comments/" + f.id).then(load).catch(alertError);
          });
          li.appendChild(del);
        }
        ul.appendChild(li);
      });
    });
    renderSummary();
  }

  function renderSummary() {
    var box = document.getElementById("summary");
    if (!box) { return; }
    var approved = state.feedback.filter(function (f) { return f.kind === "approved"; }).length;
    var changes = state.feedback.filter(function (f) { return f.kind === "change_request"; }).length;
    var comments = state.feedback.filter(function (f) { return f.id || f.comment; }).length;
    box.innerHTML = "";
    var p = document.createElement("p");
    if (changes === 0 && comments === 0) {
      p.textContent = "You will approve this sample as it is" + (approved ? " (" + approved + " item(s) marked approved)." : ".");
    } else {
      p.textContent = "You will send " + changes + " change request(s) and " + comments + " comment(s); the sample will be marked not approved.";
    }
    box.appendChild(p);
  }

  function load() {
    return request("GET", "").then(function (data) {
      state.feedback = data.feedback || [];
      render();
    });
  }

  function alertError(err) { window.alert(err.message); }

  function openForm(container, opts) {
    var existing = container.querySelector(".comment-form");
    if (existing) { existing.remove(); }
    var form = document.getElementById("comment-form").content.firstElementChild.cloneNode(true);
    var quoteRow = form.querySelector(".quote-row");
    var quote = form.querySelector("[name=quote]");
    var comment = form.querySelector("textarea[name=comment]");
    var err = form.querySelector(".error");
    if (opts.kind === "line_comment") {
      quote.value = opts.quote || "";
      quote.required = true;
    } else {
      quoteRow.remove();
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      opts.save(comment.value.trim(), quote ? quote.value : "").then(function () {
        form.remove();
        return load();
      }).catch(function (e) { err.textContent = e.message; });
    });
    form.querySelector(".cancel").addEventListener("click", function () { form.remove(); });
    container.appendChild(form);
    (opts.kind === "line_comment" && !quote.value ? quote : comment).focus();
  }

  function setVerdict(group, verdict) {
    var target = group.dataset.target;
    var current = state.feedback.find(function (f) { return f.target === target && !f.id; });
    var saved = group.querySelector(".saved");
    if (current && current.kind === verdict) {
      return request("PUT", "/items/" + encodeURIComponent(target), { verdict: null, comment: "", author: author() }).then(load);
    }
    if (verdict === "change_request") {
      openForm(group, { kind: "note", save: function (comment) {
        return request("PUT", "/items/" + encodeURIComponent(target), { verdict: verdict, comment: comment, author: author() });
      } });
      return Promise.resolve();
    }
    return request("PUT", "/items/" + encodeURIComponent(target), { verdict: verdict, comment: "", author: author() }).then(function () {
      text(saved, "Saved");
      return load();
    });
  }

  function selectionIn(pid) {
    var sel = window.getSelection();
    if (!sel || sel.isCollapsed || sel.rangeCount === 0) { return ""; }
    var para = document.getElementById(pid);
    var range = sel.getRangeAt(0);
    if (!para.contains(range.commonAncestorContainer)) { return ""; }
    return sel.toString();
  }

  function init() {
    if (nameInput) {
      nameInput.value = window.localStorage.getItem(nameKey) || "";
      nameInput.addEventListener("change", function () { window.localStorage.setItem(nameKey, author()); });
    }
    document.addEventListener("selectionchange", function () {
      var sel = window.getSelection();
      if (!sel || sel.isCollapsed || sel.rangeCount === 0) { return; }
      var node = sel.getRangeAt(0).commonAncestorContainer;
      var el = node.nodeType === 1 ? node : node.parentElement;
      var para = el && el.closest ? el.closest(".para") : null;
      if (para) { lastSelection = { pid: para.id, text: sel.toString() }; }
    });
    document.querySelectorAll(".verdict button").forEach(function (b) {
      b.addEventListener("click", function () { setVerdict(b.closest(".verdict"), b.dataset.verdict).catch(alertError); });
    });
    document.querySelectorAll(".add-note").forEach(function (b) {
      b.addEventListener("click", function () {
        var pid = b.dataset.pid;
        openForm(b.closest(".para-block"), { kind: "note", save: function (comment) {
          return request("POST", "/comments", { target: pid, kind: "note", quote: "", comment: comment, author: author() });
        } });
      });
    });
    document.querySelectorAll(".add-line").forEach(function (b) {
      // Keep the selection when the button is pressed with a mouse.
      b.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
      b.addEventListener("click", function () {
        var pid = b.dataset.pid;
        var quote = selectionIn(pid) || (lastSelection.pid === pid ? lastSelection.text : "");
        openForm(b.closest(".para-block"), { kind: "line_comment", quote: quote, save: function (comment, q) {
          return request("POST", "/comments", { target: pid, kind: "line_comment", quote: q, comment: comment, author: author() });
        } });
      });
    });
    var submit = document.getElementById("submit-review");
    if (submit) {
      submit.addEventListener("click", function () {
        if (!window.confirm("Submit your review? The team is notified and this page becomes read-only.")) { return; }
        submit.disabled = true;
        request("POST", "/submit", { author: author() }).then(function () {
          window.location.reload();
        }).catch(function (e) { submit.disabled = false; alertError(e); });
      });
    }
    load().catch(alertError);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
