// hashmatch's own script: niceties only; every page works without it.
"use strict";

// Shielded media (.shielded): blurred and grey until revealed, then blurred
// again after data-seconds (4 by default), when the pointer or the focus
// leaves, or when another is revealed: one at a time.  Revealed while the
// button is held, or for those seconds after a click.  A shield whose button
// is in a form[data-reveal] asks the server first (POST, JSON): the picture
// in the page is blurred on the server, and the clear one is only lent.
const hiders = new Set();

function csrfOf(form) {
  return form.querySelector("input[name=csrf_token]").value;
}

// POST a form from the script; the answer, or an Error with the server's message.
async function post(form, accept) {
  const answer = await fetch(form.action, {
    method: "POST",
    headers: { "X-CSRF-Token": csrfOf(form), Accept: accept },
    credentials: "same-origin",
  });
  if (answer.ok) return answer;
  let message = `That did not work (${answer.status}): reload the page and retry.`;
  if ((answer.headers.get("content-type") || "").includes("json")) {
    message = (await answer.json()).error.message;
  }
  throw new Error(message);
}

function say(alertId, message) {
  const alert = alertId && document.getElementById(alertId);
  if (!alert) return;
  alert.textContent = message;
  alert.hidden = !message;
}

function shield(box) {
  const button = box.querySelector("button");
  if (!button) return;
  const media = box.querySelector("img, video");
  const form = box.querySelector("form[data-reveal]");
  const blurred = media && media.dataset.blurredSrc;
  let timer = 0;
  let asked = 0; // a reveal still on its way is dropped by a hide
  const hide = () => {
    asked += 1;
    clearTimeout(timer);
    box.classList.remove("revealed");
    button.setAttribute("aria-pressed", "false");
    if (blurred && media.getAttribute("src") !== blurred) media.src = blurred;
  };
  hiders.add(hide);
  const showFor = (seconds) => {
    for (const other of hiders) if (other !== hide) other();
    box.classList.add("revealed");
    button.setAttribute("aria-pressed", "true");
    clearTimeout(timer);
    timer = setTimeout(hide, seconds * 1000);
  };
  const show = async () => {
    if (!form) return showFor(Number(box.dataset.seconds || 4));
    const mine = ++asked;
    try {
      const lent = await (await post(form, "application/json")).json();
      if (mine !== asked) return;
      say(box.dataset.alert, "");
      media.src = lent.image;
      const left = document.getElementById("reveals-left");
      if (left) left.textContent = lent.left.toLocaleString("en");
      showFor(lent.seconds);
    } catch (error) {
      say(box.dataset.alert, error.message);
    }
  };
  // A press shows at once; letting go after a hold hides again, after a
  // short press (a click) the reveal lasts its seconds.  Keyboard "clicks"
  // (detail 0: Enter, Space, a shortcut) toggle.
  let pressedAt = 0;
  button.addEventListener("pointerdown", () => {
    pressedAt = Date.now();
    show();
  });
  button.addEventListener("pointerup", () => {
    if (Date.now() - pressedAt > 400) hide();
  });
  button.addEventListener("click", (event) => {
    event.preventDefault(); // a reveal form is for pages without this script
    if (event.detail === 0) box.classList.contains("revealed") ? hide() : show();
  });
  box.addEventListener("pointerleave", hide);
  box.addEventListener("focusout", (event) => {
    if (!box.contains(event.relatedTarget)) hide();
  });
}

for (const box of document.querySelectorAll(".shielded")) shield(box);

// The original, on request (form[data-original] names the shield it goes
// into): fetched as a blob, shown blurred until revealed, never autoplayed.
for (const form of document.querySelectorAll("form[data-original]")) {
  const box = document.getElementById(form.dataset.original);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const blob = await (await post(form, "application/json, */*")).blob();
      const media = box.querySelector("img, video");
      if (media.src.startsWith("blob:")) URL.revokeObjectURL(media.src);
      media.src = URL.createObjectURL(blob);
      box.hidden = false;
      say(form.dataset.alert, "");
    } catch (error) {
      say(form.dataset.alert, error.message);
    }
  });
}

// Keyboard shortcuts: a key presses the element whose aria-keyshortcuts
// names it, unless the person is typing in a field.
const TYPING = /^(text|search|number|email|url|tel|password)$/;
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  const target = event.target;
  if (
    target.isContentEditable ||
    target.tagName === "TEXTAREA" ||
    target.tagName === "SELECT" ||
    (target.tagName === "INPUT" && TYPING.test(target.type))
  ) {
    return;
  }
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  for (const element of document.querySelectorAll("[aria-keyshortcuts]")) {
    if (element.getAttribute("aria-keyshortcuts").split(" ").includes(key)) {
      event.preventDefault();
      element.click();
      return;
    }
  }
});

// Copy buttons: data-copy names the element whose text is copied.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (source && navigator.clipboard) {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    }
  });
}
