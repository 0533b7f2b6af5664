// Live search: a form marked data-live refreshes the region it names (data-live="ID") as the
// admin types, by fetching the same page the form would submit to. Without JavaScript the
// form's Search button does the same with a full page load.
"use strict";
document.querySelectorAll("form[data-live]").forEach((form) => {
  const region = document.getElementById(form.dataset.live);
  let timer = null;
  let latest = 0;
  const refresh = async () => {
    const url = new URL(form.action, location.href);
    for (const [name, value] of new FormData(form)) {
      if (value) url.searchParams.set(name, value);
    }
    const ticket = ++latest;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok || ticket !== latest) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById(form.dataset.live);
    if (fresh && region) {
      region.replaceChildren(...fresh.childNodes);
      history.replaceState(null, "", url);
    }
  };
  form.querySelectorAll("input[type=search]").forEach((input) => {
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
  });
});
