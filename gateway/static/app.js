// The demo page: sign in, upload a selfie and follow its analysis live, see the measurements
// over the photo, answer the intake form (built from the API's own schema), read the routine,
// and follow progress over time. Plain JS against the public HTTP API; nothing from elsewhere.

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "skin-analysis.token";
const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const state = { token: null, file: null, photoUrl: null, task: null, schemas: null };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function human(name) {
  return name.replaceAll("_", " ");
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function say(id, message, isError = false) {
  const node = $(id);
  node.textContent = message;
  node.classList.toggle("error", isError);
}

// --- The API ---------------------------------------------------------------------------------

async function api(method, path, { body, json } = {}) {
  const headers = { authorization: `Bearer ${state.token}` };
  let payload = body;
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers, body: payload });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401) signOut("Your sign-in has expired or was refused; sign in again.");
    throw new ApiError(response.status, data?.error?.message || `${response.status} ${response.statusText}`);
  }
  return data;
}

// Server-sent events over fetch, because EventSource cannot send the Authorization header.
async function* taskEvents(taskId) {
  const response = await fetch(`/tasks/${taskId}/events`, {
    headers: { authorization: `Bearer ${state.token}`, accept: "text/event-stream" },
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(response.status, data?.error?.message || response.statusText);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n"); // the spec allows CR LF line ends too
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let kind = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) kind = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      yield [kind, data ? JSON.parse(data) : null];
    }
  }
}

// --- Signing in ------------------------------------------------------------------------------

function claims(token) {
  try {
    const part = token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return null;
  }
}

function signIn(token) {
  const payload = claims(token);
  if (!payload || !payload.sub) {
    say("sign-in-status", "That is not an access token (a JWT with a user id).", true);
    return;
  }
  if (payload.exp && payload.exp * 1000 < Date.now()) {
    say("sign-in-status", "That token has expired.", true);
    return;
  }
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  $("user-id").textContent = payload.sub;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  $("analyse").hidden = false;
  $("history").hidden = false;
  say("sign-in-status", "Signed in.");
  refreshHistory();
}

function signOut(message = "Signed out.") {
  state.token = null;
  localStorage.removeItem(TOKEN_KEY);
  $("signed-out").hidden = false;
  $("signed-in").hidden = true;
  for (const id of ["analyse", "result", "intake", "routine", "history"]) $(id).hidden = true;
  say("sign-in-status", message);
}

async function localSignIn() {
  const response = await fetch("/local/token", { method: "POST" });
  if (!response.ok) {
    say("sign-in-status", "Local sign-in is off on this server: paste an access token instead.", true);
    return;
  }
  signIn((await response.json()).access_token);
}

// --- Analysing -------------------------------------------------------------------------------

function setProgress(percent) {
  const value = Math.max(0, Math.min(100, Math.round(percent)));
  $("analysis-progress").value = value;
  $("progress-percent").textContent = `${value} %`;
}

async function analyse(event) {
  event.preventDefault();
  const file = state.file;
  if (!file) {
    say("analysis-status", "Choose a photo or take a selfie first.", true);
    return;
  }
  const form = new FormData();
  form.append("image", file, file.name || "selfie.jpg");
  const age = $("age-input").value.trim();
  if (age) form.append("real_age", age);
  $("analyse-button").disabled = true;
  setProgress(0);
  say("analysis-status", "Uploading…");
  try {
    const { task_id: taskId } = await api("POST", "/tasks", { body: form });
    if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
    state.photoUrl = URL.createObjectURL(file);
    let task = null;
    for await (const [kind, data] of taskEvents(taskId)) {
      if (kind === "progress") {
        setProgress(100 * data.fraction);
        say("analysis-status", data.message || human(data.stage));
      } else if (kind === "task") {
        task = data;
      } else if (kind === "error") {
        throw new ApiError(503, data.message);
      }
    }
    if (!task || !["succeeded", "failed"].includes(task.status)) {
      task = await api("GET", `/tasks/${taskId}`);
    }
    if (task.status === "succeeded") {
      setProgress(100);
      say("analysis-status", "Done.");
      showTask(task, state.photoUrl);
    } else {
      say("analysis-status", `The photo was not analysed: ${task.error}`, true);
    }
  } catch (error) {
    say("analysis-status", error.message, true);
  } finally {
    $("analyse-button").disabled = false;
    refreshHistory();
  }
}

// --- Showing a result ------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svgNode(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function drawOverlay(result) {
  const overlay = $("overlay");
  overlay.replaceChildren();
  const { width, height } = result.image;
  overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
  overlay.setAttribute("preserveAspectRatio", "none");
  const stroke = Math.max(1, width / 400);
  let regions = 0;
  for (const [name, region] of Object.entries(result.regions)) {
    const points = region.polygon.map(([x, y]) => `${x},${y}`).join(" ");
    const polygon = svgNode("polygon", { points, class: "region", "stroke-width": stroke });
    polygon.append(svgNode("title", {}));
    polygon.lastChild.textContent = human(name);
    overlay.append(polygon);
    regions += 1;
  }
  const counts = {};
  for (const kind of ["spots", "acne"]) {
    const locations = result.concerns[kind]?.details?.locations || [];
    counts[kind] = locations.length;
    for (const blob of locations) {
      const [cx, cy] = blob.center;
      overlay.append(
        svgNode("circle", {
          cx, cy, r: Math.max(blob.radius * 1.6, width / 250), class: kind === "spots" ? "spot" : "acne",
          "stroke-width": stroke * 1.5,
        }),
      );
    }
  }
  const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  $("overlay-caption").textContent =
    `${count(regions, "measured region", "measured regions")}, ${count(counts.spots, "spot", "spots")} ` +
    `and ${count(counts.acne, "acne lesion", "acne lesions")} marked on the photo.`;
}

// Shows the whole photo, or the face with a margin, scaled to the figure's width; the photo
// and the overlay move together, so the overlay's coordinates stay the photo's pixels.
function layoutPhoto() {
  const result = state.task?.result;
  if (!result || $("overlay-figure").hidden) return;
  const { width, height } = result.image;
  let [left, top, right, bottom] = [0, 0, width, height];
  if ($("zoom-face").checked) {
    const [x, y, w, h] = result.face.box;
    const margin = 0.35;
    left = Math.max(0, x - margin * w);
    top = Math.max(0, y - margin * h);
    right = Math.min(width, x + w * (1 + margin));
    bottom = Math.min(height, y + h * (1 + margin));
  }
  const scale = Math.min($("overlay-figure").clientWidth / (right - left), 640 / (bottom - top));
  const frame = $("photo-frame");
  frame.style.width = `${(right - left) * scale}px`;
  frame.style.height = `${(bottom - top) * scale}px`;
  for (const node of [$("photo"), $("overlay")]) {
    node.style.width = `${width * scale}px`;
    node.style.height = `${height * scale}px`;
    node.style.transform = `translate(${-left * scale}px, ${-top * scale}px)`;
  }
}

function scoreCard(name, concern) {
  const measurement = concern.measurement || {};
  return element(
    "li",
    { class: "card" },
    element("h3", { text: human(name) }),
    element("p", {}, element("span", { class: "score", text: `${Math.round(concern.score)}` }),
      // Results stored before schema 2.3 carry no margin.
      concern.margin === undefined ? "" : element("span", { class: "margin", text: ` ± ${Math.round(concern.margin)}` }),
      " / 100, ", element("span", { text: concern.severity })),
    element("meter", { min: "0", max: "100", value: `${concern.score}`, "aria-label": `${human(name)} score` }),
    element("p", { class: "hint", text: `measured: ${Number(Number(measurement.value).toPrecision(3))} ${measurement.unit}` }),
  );
}

function showTask(task, photoUrl) {
  state.task = task;
  const result = task.result;
  $("result").hidden = false;
  const figure = $("overlay-figure");
  if (photoUrl) {
    figure.hidden = false;
    const photo = $("photo");
    photo.onload = () => {
      drawOverlay(result);
      layoutPhoto();
    };
    photo.src = photoUrl;
  } else {
    figure.hidden = true;
  }
  const age = result.age_estimate ? `; apparent age from the photo about ${Math.round(result.age_estimate.years)}` : "";
  const margin = result.overall.margin === undefined ? "" : ` ± ${Math.round(result.overall.margin)}`;
  $("overall").textContent = `Overall ${Math.round(result.overall.score)}${margin} / 100 (${result.overall.severity})${age}. ` +
    "Higher scores mean more of a concern; ± is the margin: another photo taken now would land within it 9 times in 10.";
  // Most pronounced first: the order of the stored JSON says nothing.
  $("score-cards").replaceChildren(
    ...Object.entries(result.concerns)
      .sort(([, a], [, b]) => b.score - a.score)
      .map(([name, concern]) => scoreCard(name, concern)),
  );
  const corrected = result.color_correction.reference === "sclera" ? "corrected from the whites of the eyes" : "not corrected (too little of the eyes showed)";
  $("quality-note").textContent =
    `Analysed ${result.image.width}×${result.image.height} px; the light's colour was ${corrected}.` +
    (photoUrl ? "" : " The photo is not kept on the server, so only the scores are shown.");
  showIntake(task);
  showRoutine(task.routine);
}

// --- The intake form, built from the API's schema --------------------------------------------

async function schemas() {
  if (!state.schemas) {
    const response = await fetch("/openapi.json");
    state.schemas = (await response.json()).components.schemas;
  }
  return state.schemas;
}

function resolve(schema, all) {
  if (schema.$ref) return resolve(all[schema.$ref.split("/").pop()], all);
  return schema;
}

function fieldFor(name, property, all, current) {
  const schema = resolve(property, all);
  const id = `intake-${name}`;
  const label = human(name).replace(/^./, (first) => first.toUpperCase());
  const description = property.description || schema.description;
  const hint = description ? element("p", { class: "hint", id: `${id}-hint`, text: description }) : null;
  const described = hint ? { "aria-describedby": `${id}-hint` } : {};
  if (schema.type === "array") {
    const items = resolve(schema.items || {}, all);
    if (items.enum) {
      const chosen = new Set(current || []);
      const boxes = items.enum.map((value) =>
        element("label", {}, element("input", { type: "checkbox", name, value, ...(chosen.has(value) ? { checked: "" } : {}) }), ` ${human(value)}`),
      );
      return element("fieldset", { class: "intake-field", ...described }, element("legend", { text: label }),
        element("div", { class: "choices" }, ...boxes), hint);
    }
    const input = element("input", { id, name, type: "text", "data-list": "", value: (current || []).join(", "), ...described });
    return element("div", { class: "intake-field" }, element("label", { for: id, text: `${label} (separate with commas)` }), input, hint);
  }
  if (schema.enum) {
    const value = current ?? property.default ?? schema.default;
    const select = element("select", { id, name, ...described },
      ...(value === undefined ? [element("option", { value: "", text: "Choose…" })] : []),
      ...schema.enum.map((option) => element("option", { value: option, text: human(option), ...(option === value ? { selected: "" } : {}) })));
    return element("div", { class: "intake-field" }, element("label", { for: id, text: label }), select, hint);
  }
  if (schema.type === "boolean") {
    const checked = current ?? property.default ?? false;
    return element("div", { class: "intake-field" },
      element("input", { id, name, type: "checkbox", ...(checked ? { checked: "" } : {}), ...described }),
      element("label", { for: id, text: ` ${label}` }), hint);
  }
  if (schema.type === "integer") {
    const input = element("input", { id, name, type: "number", step: "1", value: `${current ?? property.default ?? ""}`, ...described });
    if (schema.minimum !== undefined) input.min = schema.minimum;
    if (schema.maximum !== undefined) input.max = schema.maximum;
    return element("div", { class: "intake-field" }, element("label", { for: id, text: label }), input, hint);
  }
  return null;
}

async function showIntake(task) {
  const all = await schemas();
  const intake = all.Intake;
  const form = $("intake-form");
  const current = task.intake || {};
  form.replaceChildren(
    ...Object.entries(intake.properties).map(([name, property]) => fieldFor(name, property, all, current[name])).filter(Boolean),
    element("button", { type: "submit", text: "Make my routine" }),
  );
  form.dataset.taskId = task.task_id;
  $("intake").hidden = false;
}

function readIntake(form, intakeSchema, all) {
  const answers = {};
  for (const [name, property] of Object.entries(intakeSchema.properties)) {
    const schema = resolve(property, all);
    if (schema.type === "array") {
      const items = resolve(schema.items || {}, all);
      answers[name] = items.enum
        ? [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value)
        : form.elements[name].value.split(",").map((text) => text.trim()).filter(Boolean);
    } else if (schema.type === "boolean") {
      answers[name] = form.elements[name].checked;
    } else if (schema.type === "integer") {
      if (form.elements[name].value !== "") answers[name] = Number(form.elements[name].value);
    } else if (form.elements[name].value !== "") {
      answers[name] = form.elements[name].value;
    }
  }
  return answers;
}

async function submitIntake(event) {
  event.preventDefault();
  const form = $("intake-form");
  const all = await schemas();
  say("intake-status", "Making your routine…");
  try {
    const task = await api("PUT", `/tasks/${form.dataset.taskId}/intake`, { json: readIntake(form, all.Intake, all) });
    state.task = task;
    showRoutine(task.routine);
    say("intake-status", "Your routine is below.");
  } catch (error) {
    say("intake-status", error.message, true);
  }
}

// --- The routine -----------------------------------------------------------------------------

function dayList(days) {
  if (!days || days.length === 7) return "every day";
  return days.map((day) => day.slice(0, 3)).join(", ");
}

function stepItem(step) {
  return element(
    "li",
    {},
    element("strong", { text: step.product }),
    ` — ${human(step.kind)}, ${step.minutes} min, ${dayList(step.days)}`,
    step.spf ? `, SPF ${step.spf}` : "",
    element("ul", { class: "why" }, ...step.why.map((reason) => element("li", { text: reason.text }))),
  );
}

function showRoutine(routine) {
  const body = $("routine-body");
  if (!routine) {
    $("routine").hidden = true;
    return;
  }
  const parts = [["Morning", routine.am], ["Evening", routine.pm], ["Weekly", routine.weekly || []]];
  body.replaceChildren(
    ...parts.filter(([, steps]) => steps.length).map(([title, steps]) =>
      element("div", { class: "routine-part" }, element("h3", { text: title }), element("ol", {}, ...steps.map(stepItem)))),
    ...(routine.ramp_up?.length ? [element("h3", { text: "Starting new actives" }), element("ul", {},
      ...routine.ramp_up.map((ramp) => element("li", { text: `${human(ramp.active)} from week ${ramp.start_week}: ${ramp.stages.map((stage) => `${stage.weeks}: ${stage.frequency}`).join("; ")}` })))] : []),
    ...(routine.avoid?.length ? [element("h3", { text: "Avoid" }), element("ul", {},
      ...routine.avoid.map((item) => element("li", { text: `${item.ingredient}: ${item.why}` })))] : []),
    ...(routine.notes?.length ? [element("h3", { text: "Notes" }), element("ul", {}, ...routine.notes.map((note) => element("li", { text: note })))] : []),
    element("p", { class: "hint", text: `About ${routine.minutes.am} min in the morning and up to ${routine.minutes.pm_busiest} min in the evening. ${routine.disclaimer}` }),
  );
  $("routine").hidden = false;
}

// --- History and progress over time ----------------------------------------------------------

function when(timestamp) {
  return new Date(timestamp).toLocaleString();
}

async function openTask(taskId) {
  try {
    const task = await api("GET", `/tasks/${taskId}`);
    if (task.status === "succeeded") showTask(task, null);
    $("result").scrollIntoView();
  } catch (error) {
    say("analysis-status", error.message, true);
  }
}

function directionCell(direction, comparable = true) {
  if (!comparable) return element("td", { class: "incomparable", text: "not comparable" });
  return element("td", { class: direction === "steady" ? "" : direction, text: direction });
}

function caveatList(comparison) {
  if (!comparison || !comparison.caveats.length) return [];
  return [element("ul", {}, ...comparison.caveats.map((caveat) =>
    element("li", { text: `Not comparable for ${caveat.concerns.map(human).join(", ")}: ${caveat.message}.` })))];
}

function showProgress(progress) {
  const body = $("progress-body");
  if (progress.analyses.length < 2) {
    body.replaceChildren(element("p", { class: "hint", text: "Progress appears after two succeeded analyses." }));
  } else {
    const rows = Object.entries(progress.concerns).map(([name, trend]) =>
      element("tr", {},
        element("th", { scope: "row", text: human(name) }),
        element("td", { text: trend.series.map((point) => (point.comparable ? `${Math.round(point.score)}` : `(${Math.round(point.score)})`)).join(" → ") }),
        element("td", { text: trend.fitted_change === null ? "" : `${trend.fitted_change > 0 ? "+" : ""}${trend.fitted_change}` }),
        element("td", { text: trend.detectable_change === null ? "" : `±${Math.round(trend.detectable_change)}` }),
        directionCell(trend.direction)));
    body.replaceChildren(
      element("table", {}, element("caption", { text: `Your last ${progress.analyses.length} analyses, oldest first; (n) is a photo left out as not comparable` }),
        element("thead", {}, element("tr", {}, ...["Concern", "Scores", "Trend (points)", "Visible past", "Direction"].map((text) => element("th", { scope: "col", text })))),
        element("tbody", {}, ...rows)),
      element("p", { class: "hint", text: "A change within 'visible past' (the margins of the first and latest photo added) is steady: no change you can see from these photos." }),
      ...caveatList(progress.latest_change),
    );
  }
  for (const id of ["compare-before", "compare-after"]) {
    $(id).replaceChildren(...progress.analyses.map((analysis) =>
      element("option", { value: analysis.task_id, text: `${when(analysis.created_at)} (overall ${Math.round(analysis.overall_score)})` })));
  }
  if (progress.analyses.length) $("compare-after").selectedIndex = progress.analyses.length - 1;
  $("compare-form").hidden = progress.analyses.length < 2;
}

async function compare(event) {
  event.preventDefault();
  try {
    const params = new URLSearchParams({ before: $("compare-before").value, after: $("compare-after").value });
    const comparison = await api("GET", `/progress/compare?${params}`);
    const rows = Object.entries({ overall: comparison.overall, ...comparison.concerns }).map(([name, change]) =>
      element("tr", {},
        element("th", { scope: "row", text: human(name) }),
        element("td", { text: `${Math.round(change.before)}` }),
        element("td", { text: `${Math.round(change.after)}` }),
        element("td", { text: `${change.change > 0 ? "+" : ""}${change.change}` }),
        element("td", { text: `±${Math.round(change.detectable_change)}` }),
        element("td", { text: change.summary })));
    $("compare-body").replaceChildren(
      element("table", {}, element("caption", { text: `${when(comparison.before.created_at)} against ${when(comparison.after.created_at)}` }),
        element("thead", {}, element("tr", {}, ...["Concern", "Before", "After", "Change", "Visible past", "What it means"].map((text) => element("th", { scope: "col", text })))),
        element("tbody", {}, ...rows)),
      ...caveatList(comparison));
  } catch (error) {
    $("compare-body").replaceChildren(element("p", { class: "status error", text: error.message }));
  }
}

async function refreshHistory() {
  if (!state.token) return;
  try {
    const [page, progress] = await Promise.all([api("GET", "/tasks?limit=50"), api("GET", "/progress?last=10")]);
    const rows = page.tasks.map((task) => {
      const open = element("button", { type: "button", class: "link", text: "Open" });
      open.addEventListener("click", () => openTask(task.task_id));
      return element("tr", {},
        element("td", { text: when(task.created_at) }),
        element("td", { text: task.status }),
        element("td", { text: task.result ? `${Math.round(task.result.overall.score)}` : "" }),
        element("td", {}, task.status === "succeeded" ? open : null));
    });
    $("history-table").tBodies[0].replaceChildren(...rows);
    showProgress(progress);
  } catch (error) {
    $("progress-body").replaceChildren(element("p", { class: "status error", text: error.message }));
  }
}

// --- Wiring ----------------------------------------------------------------------------------

function start() {
  $("local-sign-in").addEventListener("click", localSignIn);
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token-input").value.trim());
  });
  $("sign-out").addEventListener("click", () => signOut());
  for (const id of ["photo-input", "camera-input"]) {
    $(id).addEventListener("change", (event) => {
      state.file = event.target.files[0] || state.file;
    });
  }
  $("upload-form").addEventListener("submit", analyse);
  $("intake-form").addEventListener("submit", submitIntake);
  $("refresh-history").addEventListener("click", refreshHistory);
  $("compare-form").addEventListener("submit", compare);
  for (const layer of ["regions", "spots", "acne"]) {
    $(`layer-${layer}`).addEventListener("change", (event) => {
      $("overlay").classList.toggle(`hide-${layer}`, !event.target.checked);
    });
  }
  $("zoom-face").addEventListener("change", layoutPhoto);
  window.addEventListener("resize", layoutPhoto);
  const saved = localStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
}

start();
