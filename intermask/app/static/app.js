"use strict";
// The page of python -m intermask.serve: sends the form to /api/generate, follows the job at /api/jobs/<id>
// until it is done, then shows each result in the existing viewer page with its downloads.
(function () {
  const form = document.getElementById("request");
  const button = document.getElementById("generate");
  const message = document.getElementById("message");
  const progress = document.getElementById("progress");
  const statusText = document.getElementById("status-text");
  const results = document.getElementById("results");
  const POLL_MS = 250;
  let info = null;

  function showMessage(text) { message.textContent = text; message.hidden = !text; }
  function setStatus(text, fraction) {
    statusText.textContent = text;
    progress.hidden = fraction === null;
    if (fraction === undefined) progress.removeAttribute("value");  // indeterminate
    else if (fraction !== null) progress.value = fraction;
  }

  async function loadInfo() {
    info = await (await fetch("/api/info")).json();
    const length = document.getElementById("length");
    length.min = info.shortest_seconds; length.max = info.longest_seconds; length.value = info.default_seconds;
    length.title = `${info.shortest_seconds} to ${info.longest_seconds} seconds`;
    document.getElementById("seed").value = info.seed;
    document.getElementById("cond_scale").value = info.cond_scale;
    const samples = document.getElementById("num_samples");
    samples.max = info.max_samples; samples.value = info.num_samples;
    const parts = document.getElementById("parts");
    parts.replaceChildren(...info.parts.map((name) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox"; box.name = "part"; box.value = name;
      label.append(box, ` ${name}`);
      return label;
    }));
    document.getElementById("model").textContent =
      `model ${info.checkpoint} · ${info.shortest_seconds}–${info.longest_seconds} s at ${info.fps} fps`;
  }

  for (const radio of form.elements.mode) {
    radio.addEventListener("change", () => {
      const mode = form.elements.mode.value;
      document.getElementById("upload").hidden = mode === "text";
      document.getElementById("reaction").hidden = mode !== "reaction";
      document.getElementById("edit").hidden = mode !== "edit";
      document.getElementById("length").disabled = mode !== "text";  // a reaction or an edit is as long as the upload
    });
  }

  function describeState(state) {
    if (state.state === "queued") {
      return [state.ahead ? `waiting: ${state.ahead} request${state.ahead > 1 ? "s" : ""} ahead` : "starting", undefined];
    }
    if (state.stage === "decoding") return [`decoding step ${state.done} of ${state.total}`, state.done / state.total];
    if (state.stage === "writing") return [`writing files ${state.done + 1} of ${state.total}`, 1];
    return ["reading the caption", 0];
  }

  function showResults(list) {
    results.replaceChildren();
    const template = document.getElementById("result-card");
    for (const result of list) {
      const card = template.content.firstElementChild.cloneNode(true);
      card.dataset.name = result.name;
      if (result.note) {
        const note = card.querySelector(".note");
        note.textContent = result.note; note.hidden = false;
      }
      card.querySelector(".viewer").src = result.viewer;
      const video = result.files.mp4 || result.files.gif;
      const mp4 = card.querySelector(".mp4");
      if (video) { mp4.href = video; mp4.textContent = video.endsWith(".gif") ? "GIF" : "MP4"; } else mp4.remove();
      card.querySelector(".bvh").href = result.zips.bvh;
      card.querySelector(".npy").href = result.zips.npy;
      card.querySelector(".page").href = result.viewer;
      results.append(card);
    }
  }

  async function follow(jobId) {
    for (;;) {
      const response = await fetch(`/api/jobs/${jobId}`);
      const state = await response.json();
      if (!response.ok) throw new Error(state.error || `status ${response.status}`);
      if (state.state === "done") {
        setStatus(`done in ${state.took.toFixed(1)} s (waited ${state.waited.toFixed(1)} s in line)`, null);
        showResults(state.results);
        return;
      }
      if (state.state === "failed") { setStatus("", null); showMessage(state.error); return; }
      const [text, fraction] = describeState(state);
      setStatus(text, fraction);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showMessage("");
    const data = new FormData(form);
    const files = document.getElementById("motion").files;
    const uploads = data.get("mode") !== "text";
    if (!uploads) data.delete("motion");
    const size = Array.from(files).reduce((total, file) => total + file.size, 0);
    if (uploads && info && size > info.max_upload_bytes) {
      showMessage(`The upload is ${(size / 2 ** 20).toFixed(0)} MB; the app takes up to ` +
                  `${info.max_upload_bytes / 2 ** 20} MB (a result's .npy or BVH pair is well under 1 MB).`);
      return;
    }
    button.disabled = true;
    setStatus("sending", undefined);
    try {
      const response = await fetch("/api/generate", { method: "POST", body: data });
      const answer = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
      if (!response.ok) { setStatus("", null); showMessage(answer.error); return; }
      await follow(answer.job);
    } catch (error) {
      setStatus("", null);
      showMessage(`The server could not be reached (${error.message}); is python -m intermask.serve running?`);
    } finally {
      button.disabled = false;
    }
  });

  loadInfo().catch((error) => showMessage(`The server could not be reached (${error.message}).`));
})();
