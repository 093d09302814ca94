// evalloop's page behaviour. Pages carry no inline scripts or on* handlers: the
// Content-Security-Policy forbids them, so each behaviour is a data attribute handled here.

// <select data-submit-on-change> submits its form as soon as a choice is made.
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-submit-on-change]");
  if (field && field.form) {
    field.form.requestSubmit();
  }
});

// <textarea data-schema-editor> holds an evaluator's output schema as JSON. With JavaScript
// a table of fields (name, type, bounds, choices) edits it and writes the JSON back on every
// change; the server checks the JSON as before. Without JavaScript, or when the box holds
// JSON the table cannot show, the box stays as it is.
const SCHEMA_TYPES = ["number", "boolean", "category", "text"];

function schemaFieldsOf(text) {
  if (!text.trim()) return [];
  try {
    const schema = JSON.parse(text);
    if (schema && Array.isArray(schema.fields)) return schema.fields;
  } catch (error) {
    // not JSON yet: the box shows it, and the server says what is wrong
  }
  return null;
}

function schemaInput(label, value, type = "text") {
  const input = document.createElement("input");
  input.type = type;
  input.setAttribute("aria-label", label);
  input.placeholder = label;
  if (type === "number") input.step = "any";
  input.value = value === undefined || value === null ? "" : String(value);
  return input;
}

function schemaRow(field) {
  const row = document.createElement("div");
  row.className = "schema-row";
  const name = schemaInput("Field name", field.name);
  const type = document.createElement("select");
  type.setAttribute("aria-label", "Field type");
  for (const choice of SCHEMA_TYPES) type.add(new Option(choice, choice));
  type.value = SCHEMA_TYPES.includes(field.type) ? field.type : "number";
  const min = schemaInput("Min", field.min, "number");
  const max = schemaInput("Max", field.max, "number");
  const choices = schemaInput("Choices, separated by commas", (field.choices || []).join(", "));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "linklike";
  remove.dataset.schemaRemove = "";
  remove.textContent = "Remove";
  row.append(name, type, min, max, choices, remove);
  showSchemaBounds(row);
  return row;
}

function showSchemaBounds(row) {
  const [, type, min, max, choices] = row.children;
  min.hidden = max.hidden = type.value !== "number";
  choices.hidden = type.value !== "category";
}

function readSchemaRow(row) {
  const [name, type, min, max, choices] = row.children;
  const field = { name: name.value.trim(), type: type.value };
  if (type.value === "number") {
    if (min.value !== "") field.min = Number(min.value);
    if (max.value !== "") field.max = Number(max.value);
  }
  if (type.value === "category") {
    field.choices = choices.value.split(",").map((choice) => choice.trim()).filter(Boolean);
  }
  return field;
}

function enhanceSchemaBox(box) {
  const fields = box.dataset.enhanced ? null : schemaFieldsOf(box.value);
  if (fields === null) return;
  box.dataset.enhanced = "on";
  const editor = document.createElement("div");
  editor.className = "schema-editor";
  const rows = document.createElement("div");
  rows.className = "schema-rows";
  const add = document.createElement("button");
  add.type = "button";
  add.className = "secondary";
  add.textContent = "Add a field";
  const asJson = document.createElement("button");
  asJson.type = "button";
  asJson.className = "linklike";
  asJson.textContent = "Edit as JSON";
  editor.append(rows, add, " ", asJson);
  box.before(editor);
  box.hidden = true;
  const write = () => {
    const all = [...rows.children].map(readSchemaRow);
    box.value = all.length ? JSON.stringify({ fields: all }, null, 2) : "";
  };
  for (const field of fields.length ? fields : [{ type: "number" }]) rows.append(schemaRow(field));
  if (!fields.length) write();
  editor.addEventListener("input", write);
  editor.addEventListener("change", (event) => {
    const row = event.target.closest(".schema-row");
    if (row) showSchemaBounds(row);
    write();
  });
  editor.addEventListener("click", (event) => {
    if (event.target === add) {
      rows.append(schemaRow({ type: "number" }));
      rows.lastChild.firstChild.focus();
    } else if (event.target.matches("[data-schema-remove]")) {
      event.target.closest(".schema-row").remove();
    } else if (event.target === asJson) {
      editor.remove();
      box.hidden = false;
      return;
    } else {
      return;
    }
    write();
  });
}

function enhanceSchemaBoxes(root) {
  root.querySelectorAll("textarea[data-schema-editor]").forEach(enhanceSchemaBox);
}

if (window.htmx) {
  htmx.onLoad(enhanceSchemaBoxes); // the first page, and the kind's fields when swapped in
} else {
  document.addEventListener("DOMContentLoaded", () => enhanceSchemaBoxes(document));
}

// A refused or failed HTMX request swaps nothing, so say so above the page instead of
// leaving the form looking as if nothing happened.
const HTMX_FAILURES = {
  400: "The server could not accept what was sent (a character it refuses?). Check the values and try again.",
  403: "Your role may not do this.",
  404: "This no longer exists. Reload the page.",
  413: "What was sent is too large.",
  429: "Too many attempts. Wait a little and try again.",
  503: "The database is busy. Try again in a moment.",
};

document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  const text = HTMX_FAILURES[status] || `The server failed to answer (HTTP ${status}). Try again.`;
  const main = document.querySelector("main");
  if (!main) return;
  let list = main.querySelector(":scope > ul.flash[data-htmx-errors]");
  if (!list) {
    list = document.createElement("ul");
    list.className = "flash";
    list.dataset.htmxErrors = "";
    list.setAttribute("role", "alert");
    main.prepend(list);
  }
  const item = document.createElement("li");
  item.className = "flash-error";
  item.textContent = text;
  list.replaceChildren(item);
});

// An element with data-poll-while-visible polls (hx-trigger="every ...") only while the page
// is in view: a request that would start in a hidden tab is dropped.
document.addEventListener("htmx:beforeRequest", (event) => {
  const polling = event.detail.elt.closest("[data-poll-while-visible]");
  if (polling && document.visibilityState !== "visible") event.preventDefault();
});

// A filter builder inside [data-filter-carries="<form id>"] reloads the page to add or remove
// a clause; it takes that form's current values along, so nothing typed there is lost. The
// clauses (`f`) are the builder's own: the form's copy of them is not carried.
const NOT_CARRIED = new Set(["csrfmiddlewaretoken", "confirm", "f"]);

function carriedValues(holder) {
  const form = document.getElementById(holder.dataset.filterCarries);
  if (!form) return null;
  const names = new Set();
  const values = [];
  for (const field of form.elements) {
    if (!field.name || NOT_CARRIED.has(field.name)) continue;
    names.add(field.name);
    if ((field.type === "checkbox" || field.type === "radio") && !field.checked) continue;
    values.push([field.name, field.value]);
  }
  return { names, values };
}

document.addEventListener("submit", (event) => {
  const holder = event.target.closest("[data-filter-carries]");
  const carried = holder && carriedValues(holder);
  if (!carried) return;
  for (const input of event.target.querySelectorAll("input[type=hidden]")) {
    if (carried.names.has(input.name)) input.remove();
  }
  for (const [name, value] of carried.values) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    event.target.append(input);
  }
});

document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-filter-carries] a.filter-remove");
  const carried = link && carriedValues(link.closest("[data-filter-carries]"));
  if (!carried) return;
  const url = new URL(link.href);
  for (const name of carried.names) url.searchParams.delete(name);
  for (const [name, value] of carried.values) url.searchParams.append(name, value);
  link.href = url.toString();
});

// <p data-shown-when="id_completion=idle"> shows only while that field holds that value.
function showWhen(root) {
  root.querySelectorAll("[data-shown-when]").forEach((element) => {
    const [id, value] = element.dataset.shownWhen.split("=");
    const field = document.getElementById(id);
    if (field) element.hidden = field.value !== value;
  });
}

document.addEventListener("change", () => showWhen(document));
document.addEventListener("DOMContentLoaded", () => showWhen(document));

// <input type="checkbox" data-select-all="session"> in a table's head ticks or clears every
// box of that name in the table's rows, and shows whether all, some or none are ticked. It
// ships hidden, as without JavaScript it could do nothing; each row's own box works anyway.
function revealSelectAll(root) {
  root.querySelectorAll("input[data-select-all]").forEach((box) => {
    box.hidden = false;
  });
}

function rowBoxes(all) {
  const table = all.closest("table");
  const name = all.dataset.selectAll;
  return table ? [...table.querySelectorAll("tbody input[type=checkbox]")].filter((box) => box.name === name) : [];
}

document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
  if (box.dataset.selectAll !== undefined) {
    for (const row of rowBoxes(box)) row.checked = box.checked;
    box.indeterminate = false;
    return;
  }
  const all = box.closest("table")?.querySelector("thead input[data-select-all]");
  if (!all) return;
  const rows = rowBoxes(all);
  const ticked = rows.filter((row) => row.checked).length;
  all.checked = rows.length > 0 && ticked === rows.length;
  all.indeterminate = ticked > 0 && ticked < rows.length;
});

if (window.htmx) {
  htmx.onLoad(revealSelectAll); // the first page, and each page of results swapped in
} else {
  document.addEventListener("DOMContentLoaded", () => revealSelectAll(document));
}
