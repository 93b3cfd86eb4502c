// Loket's own script: htmx for swapping a task's form beside the inbox, the CSRF token on every htmx request,
// j/k/Enter in the inbox, and adding/removing rows of a list in a task form. Pages work without it too.
import htmx from "htmx.org";

window.htmx = htmx;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// Flask-WTF reads the token from this header on requests without a form field (htmx posts that carry one too).
document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-CSRFToken"] = csrfToken();
});

// An error answer to an htmx request (409, 422, 500) still holds a page to show: swap it in, not nothing.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status === 409 || status === 422 || status === 403 || status === 404 || status >= 500) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// ---------------------------------------------------------------- the inbox: j/k to move, Enter to open

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

function inboxLinks() {
  return Array.from(document.querySelectorAll("[data-inbox-row] a[data-task-link]"));
}

function mark(link) {
  document.querySelectorAll("[data-inbox-row][aria-current]").forEach((row) => row.removeAttribute("aria-current"));
  if (link) link.closest("[data-inbox-row]").setAttribute("aria-current", "true");
}

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
  if (event.key !== "j" && event.key !== "k") return;
  const links = inboxLinks();
  if (!links.length) return;
  const at = links.indexOf(document.activeElement);
  const next = event.key === "j" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
  links[at < 0 ? 0 : next].focus();
  event.preventDefault();
});

// Enter on a focused row link follows it (htmx loads the form beside the list); mark the chosen row.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-task-link]");
  if (link) mark(link);
});

// After a form arrives beside the list, move focus to its heading, so a keyboard user lands in the form.
document.addEventListener("htmx:afterSwap", (event) => {
  const heading = event.detail.target.querySelector("[data-focus-on-load]");
  if (heading) heading.focus();
});

// ---------------------------------------------------------------- lists of objects in a task form

let counter = 0;

document.addEventListener("click", (event) => {
  const add = event.target.closest && event.target.closest("[data-add-row]");
  if (add) {
    const list = document.getElementById(add.dataset.addRow);
    const template = list.querySelector("template");
    // A fresh index that no existing row uses: the server orders rows by index and closes the gaps.
    const index = `n${Date.now().toString(36)}${counter++}`;
    const html = template.innerHTML.replaceAll("__INDEX__", index);
    template.insertAdjacentHTML("beforebegin", html);
    const rows = list.querySelectorAll("[data-row]");
    const first = rows[rows.length - 1].querySelector("input, select, textarea");
    if (first) first.focus();
    event.preventDefault();
    return;
  }
  const remove = event.target.closest && event.target.closest("[data-remove-row]");
  if (remove) {
    const row = remove.closest("[data-row]");
    const list = row.parentElement;
    row.remove();
    const addButton = list.parentElement.querySelector("[data-add-row]");
    if (addButton) addButton.focus();
    event.preventDefault();
  }
});
