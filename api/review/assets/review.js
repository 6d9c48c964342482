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
  var formSeq = 0;

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

  // announce tells screen readers what just happened, through the page's polite live region.
  function announce(msg) {
    var region = document.getElementById("announce");
    if (!region) { return; }
    region.textContent = "";
    window.setTimeout(function () { region.textContent = msg; }, 50);
  }

  // showError shows an error in the page (an alert region, so it is announced at once).
  function showError(err) {
    var box = document.getElementById("page-error");
    if (!box) { return; }
    box.textContent = (err && err.message ? err.message : "Something went wrong") + " Nothing was changed; please try again.";
    box.hidden = false;
  }

  function clearError() {
    var box = document.getElementById("page-error");
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  // whereOf names a feedback target for people who cannot see where a control sits.
  function whereOf(target) {
    var actions = document.querySelector('.para-block[data-pid="' + target + '"] .para-actions');
    if (actions) { return actions.dataset.where; }
    var group = document.querySelector('.verdict[data-target="' + target + '"]');
    if (group) { return group.getAttribute("aria-label").replace(/^Your verdict on /, ""); }
    return target;
  }

  // focusTarget moves focus to the first control of target, for when the focused control goes away.
  function focusTarget(target) {
    var b = document.querySelector('.para-block[data-pid="' + target + '"] .add-note') ||
      document.querySelector('.verdict[data-target="' + target + '"] button');
    if (b) { b.focus(); }
  }

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
    var n = 0;
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
          n++;
          del.setAttribute("aria-label", "Delete " + kindLabel(f.kind).toLowerCase() + " " + n + " on " + whereOf(target));
          del.addEventListener("click", function () {
            request("DELETE", "/comments/" + f.id).then(load).then(function () {
              clearError();
              focusTarget(target);
              announce(kindLabel(f.kind) + " deleted");
            }).catch(showError);
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
    return request("GET", "/feedback").then(function (data) {
      state.feedback = data.feedback || [];
      render();
    });
  }

  function openForm(container, opts) {
    var existing = container.querySelector(".comment-form");
    if (existing) { existing.remove(); }
    var form = document.getElementById("comment-form").content.firstElementChild.cloneNode(true);
    var quoteRow = form.querySelector(".quote-row");
    var quote = form.querySelector("[name=quote]");
    var comment = form.querySelector("textarea[name=comment]");
    var err = form.querySelector(".error");
    var id = "cf" + (++formSeq);
    var where = opts.where;
    form.setAttribute("aria-label", (opts.kind === "line_comment" ? "Comment on " : "Note on ") + where);
    form.querySelector("button[type=submit]").setAttribute("aria-label", "Save " + (opts.kind === "line_comment" ? "comment" : "note") + " on " + where);
    form.querySelector(".cancel").setAttribute("aria-label", "Cancel " + (opts.kind === "line_comment" ? "comment" : "note") + " on " + where);
    if (opts.kind === "line_comment") {
      quote.value = opts.quote || "";
      quote.required = true;
      var hint = form.querySelector(".quote-hint");
      hint.id = id + "-hint";
      quote.setAttribute("aria-describedby", hint.id);
    } else {
      quoteRow.remove();
      quote = null;
    }
    function close() {
      form.remove();
      if (opts.opener && document.body.contains(opts.opener)) { opts.opener.focus(); }
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      err.textContent = "";
      opts.save(comment.value.trim(), quote ? quote.value : "").then(function () {
        close();
        clearError();
        announce(opts.saved || "Comment saved");
        return load();
      }).catch(function (e) { err.textContent = e.message; });
    });
    form.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { ev.preventDefault(); close(); }
    });
    form.querySelector(".cancel").addEventListener("click", close);
    container.appendChild(form);
    (quote && !quote.value ? quote : comment).focus();
  }

  function setVerdict(group, verdict, opener) {
    var target = group.dataset.target;
    var current = state.feedback.find(function (f) { return f.target === target && !f.id; });
    var saved = group.querySelector(".saved");
    var where = whereOf(target);
    if (current && current.kind === verdict) {
      return request("PUT", "/items/" + encodeURIComponent(target), { verdict: null, comment: "", author: author() }).then(function () {
        text(saved, "Cleared");
        clearError();
        announce("Verdict on " + where + " cleared");
        return load();
      });
    }
    if (verdict === "change_request") {
      openForm(group, { kind: "note", where: where, opener: opener, saved: "Changes requested on " + where, save: function (comment) {
        return request("PUT", "/items/" + encodeURIComponent(target), { verdict: verdict, comment: comment, author: author() }).then(function () {
          text(saved, "Saved");
        });
      } });
      return Promise.resolve();
    }
    return request("PUT", "/items/" + encodeURIComponent(target), { verdict: verdict, comment: "", author: author() }).then(function () {
      text(saved, "Saved");
      clearError();
      announce("Approved " + where);
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
      b.addEventListener("click", function () { setVerdict(b.closest(".verdict"), b.dataset.verdict, b).catch(showError); });
    });
    document.querySelectorAll(".add-note").forEach(function (b) {
      b.addEventListener("click", function () {
        var pid = b.dataset.pid;
        openForm(b.closest(".para-block"), { kind: "note", where: whereOf(pid), opener: b, saved: "Note saved", save: function (comment) {
          return request("POST", "/comments", { target: pid, kind: "note", quote: "", comment: comment, author: author() });
        } });
      });
    });
    document.querySelectorAll(".add-line").forEach(function (b) {
      // Keep the selection when the button is pressed with a mouse; from the keyboard the reviewer
      // types the quote instead.
      b.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
      b.addEventListener("click", function () {
        var pid = b.dataset.pid;
        var quote = selectionIn(pid) || (lastSelection.pid === pid ? lastSelection.text : "");
        openForm(b.closest(".para-block"), { kind: "line_comment", where: whereOf(pid), opener: b, quote: quote, saved: "Comment saved", save: function (comment, q) {
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
        }).catch(function (e) { submit.disabled = false; showError(e); });
      });
    }
    load().catch(showError);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
