// Ask the handbook: stream the answer into the page. Without this script the form posts and the server
// renders the whole answer; with it, POST /ask/stream sends server-sent events: `sources`, the grounded
// `draft` (shown at once), then one final `answer` (the model's polish when it passed the checks, otherwise
// the draft again) that replaces it. Model text that has not passed validation is never shown.
(function () {
  "use strict";
  var form = document.getElementById("ask-form");
  if (!form || !window.fetch || !window.TextDecoder || !window.URLSearchParams) { return; }
  var result = document.getElementById("ask-result");
  var answer = document.getElementById("ask-answer");
  var status = document.getElementById("ask-status");
  var errorBox = document.getElementById("ask-error");
  var grounded = document.getElementById("ask-grounded");
  var polishForm = document.getElementById("ask-polish");
  var uncovered = document.getElementById("ask-uncovered");
  var sources = document.getElementById("ask-sources");
  var list = document.getElementById("ask-citations");
  var running = false;

  function guideUrl(c) {
    return "/guides/view?source=" + encodeURIComponent(c.source) + "&chunk=" + encodeURIComponent(c.chunk_id);
  }
  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    status.textContent = "";
  }

  function finish() {
    running = false;
    var button = form.querySelector("button[type=submit]");
    if (button) {
      button.disabled = false;
      if (button.dataset.label) { button.textContent = button.dataset.label; }
    }
    form.removeAttribute("aria-busy");
    answer.setAttribute("aria-busy", "false");
  }

  function renderFinal(final) {
    var byN = {};
    final.citations.forEach(function (c) { byN[c.n] = c; });
    clear(answer);
    final.answer.split(/\[(\d+)\]/).forEach(function (piece, i) {
      if (i % 2 === 0) {
        if (piece) { answer.appendChild(document.createTextNode(piece)); }
        return;
      }
      var c = byN[piece];
      if (!c) { answer.appendChild(document.createTextNode("[" + piece + "]")); return; }
      var link = document.createElement("a");
      link.className = "marker";
      link.href = guideUrl(c);
      link.title = c.citation;
      link.setAttribute("aria-describedby", "cite-" + c.n);
      link.textContent = "[" + piece + "]";
      answer.appendChild(link);
    });
    clear(list);
    final.citations.forEach(function (c) {
      var item = document.createElement("li");
      item.id = "cite-" + c.n;
      var n = document.createElement("span");
      n.className = "n";
      n.textContent = "[" + c.n + "]";
      var link = document.createElement("a");
      link.href = guideUrl(c);
      link.textContent = c.citation;
      item.appendChild(n);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(link);
      list.appendChild(item);
    });
    sources.hidden = final.citations.length === 0;
    grounded.hidden = !(final.covered && final.origin === "grounded");
    if (polishForm) { polishForm.elements.question.value = final.question; }
    uncovered.hidden = final.covered;
    status.textContent = "";
  }

  function handle(name, data, state) {
    if (name === "sources") {
      status.textContent = "Found " + data.sources.length + " guide passages...";
    } else if (name === "draft") {
      state.draft = true;
      renderFinal(data);
      if (data.polishing) { status.textContent = "Grounded draft shown; the model is polishing it..."; }
    } else if (name === "answer") {
      state.final = true;
      renderFinal(data);
    }
  }

  function parseBlock(block, state) {
    var name = "message";
    var data = [];
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
      else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
    });
    if (data.length) { handle(name, JSON.parse(data.join("\n")), state); }
  }

  function readEvents(response) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    var state = { draft: false, final: false };
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          buffer += decoder.decode();
          if (buffer.trim()) { parseBlock(buffer.trim(), state); }
          if (!state.final) { throw new Error("The answer was cut off. Please ask again."); }
          return;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        var cut;
        while ((cut = buffer.indexOf("\n\n")) !== -1) {
          parseBlock(buffer.slice(0, cut), state);
          buffer = buffer.slice(cut + 2);
        }
        return pump();
      });
    }
    return pump();
  }

  function refusal(response) {
    if (response.type === "opaqueredirect" || response.status === 401) {
      return Promise.reject(new Error("Your session has ended. Reload the page and sign in again."));
    }
    if (response.status === 403) {
      return Promise.reject(new Error("This page has expired. Reload it and ask again."));
    }
    return response.json().then(function (body) {
      throw new Error(body.error && body.error.message ? body.error.message : "The question could not be answered.");
    }, function () {
      throw new Error("The question could not be answered (status " + response.status + "). Please try again.");
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (running) { return; }
    running = true;
    var body = new URLSearchParams();
    body.set("question", form.elements.question.value.trim());
    errorBox.hidden = true;
    result.hidden = false;
    grounded.hidden = true;
    uncovered.hidden = true;
    sources.hidden = true;
    clear(answer);
    clear(list);
    answer.setAttribute("aria-busy", "true");
    status.textContent = "Searching the guides...";
    fetch(form.dataset.stream, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-CSRF-Token": form.elements.csrf_token.value, "Accept": "text/event-stream" }
    }).then(function (response) {
      return response.ok ? readEvents(response) : refusal(response);
    }).catch(function (err) {
      if (!answer.textContent) { result.hidden = true; }
      var message = err instanceof TypeError ? "Could not reach the server. Check the connection and try again."
        : (err && err.message) || "The question could not be answered. Please try again.";
      showError(message);
    }).then(finish);
  });
})();
