// The app shell: sign-in, the menu, and which page is shown (#/<page id>[/<argument>]).
import { h, fill, say } from "./dom.js";
import { request, onUnauthorized } from "./api.js";
import { session } from "./session.js";
import { live } from "./live.js";
import { pages } from "./pages/index.js";

const root = document.getElementById("app");
let unmount = null;

function signInView(reason) {
  const input = h("input", {
    id: "token", type: "password", autocomplete: "current-password", required: true,
  });
  const message = h("p", { id: "sign-in-message", class: "message" });
  if (reason) say(message, reason, "error");
  const form = h("form", { id: "sign-in", class: "card narrow" },
    h("h1", {}, "Sign in to Bifrost"),
    h("p", {}, "Enter the admin token (bifrost init printed it, or read it from the data " +
      "directory's admin-token file). It is kept in this tab only."),
    h("div", { class: "field" }, h("label", { for: "token" }, "Admin token"), input),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    session.signIn(input.value.trim());
    try {
      await request("GET", "/api/files?limit=1");
      start();
    } catch (error) {
      session.signOut();
      say(message, error.message, "error");
      input.focus();
    }
  });
  fill(root, h("main", { id: "main" }, form));
  input.focus();
}

function shell() {
  const nav = h("nav", { "aria-label": "Pages" },
    h("ul", {}, pages.map((page) =>
      h("li", {}, h("a", { href: `#/${page.id}`, "data-page": page.id }, page.title)))));
  const signOut = h("button", { type: "button", id: "sign-out" }, "Sign out");
  signOut.addEventListener("click", () => {
    session.signOut();
    live.close();
    signInView();
  });
  const main = h("main", { id: "main", tabindex: "-1" });
  fill(root,
    h("a", { href: "#main", class: "skip" }, "Skip to content"),
    h("header", { class: "top" }, h("span", { class: "brand" }, "Bifrost"), nav, signOut),
    main);
  return main;
}

function route(main) {
  const [id, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const page = pages.find((p) => p.id === id) || pages[0];
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === page.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (unmount) unmount();
  unmount = null;
  document.title = `${page.title} · Bifrost`;
  main.replaceChildren();
  const view = h("div", { class: "page", id: `page-${page.id}` });
  main.append(view);
  const result = page.mount(view, { argument: decodeURIComponent(rest.join("/")) });
  unmount = typeof result === "function" ? result : null;
}

let routed = null;
function start() {
  const main = shell();
  if (routed) window.removeEventListener("hashchange", routed);
  routed = () => route(main);
  window.addEventListener("hashchange", routed);
  route(main);
}

onUnauthorized((detail) => {
  session.signOut();
  live.close();
  signInView(`signed out: ${detail}`);
});

if (session.token) start();
else signInView();
