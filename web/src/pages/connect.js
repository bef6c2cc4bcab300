// Source Control's connection card: a personal access token or a GitHub App, validated, then the
// repositories that credential can see (filterable), the chosen one's branches (its default
// preselected), or a new repository. Before the first connection nothing is stored: the
// credential goes in each request's JSON body (POST /api/github/repositories, /branches), never
// in a URL; once connected, leaving it empty keeps the stored one.
import { h, fill, say, field, when } from "../dom.js";
import { sendJson } from "../api.js";

const MAX_PAGES = 10; // a listing stops after 10 pages (1,000 repositories)
const PICK_DELAY_MS = 200; // arrowing through the list asks for the branches of where it stops

/** Every item of a POST listing, following next_page up to MAX_PAGES; `more`: some were left. */
async function everyPage(path, body) {
  const items = [];
  for (let page = 1, pages = 0; page; pages += 1) {
    if (pages === MAX_PAGES) return { items, more: true };
    const answer = await sendJson("POST", path, { ...body, page });
    items.push(...answer.items);
    page = answer.next_page;
  }
  return { items, more: false };
}

function describe(repository) {
  const notes = [repository.private ? "private" : "public"];
  if (!repository.can_push) notes.push("read only");
  return `${repository.full_name} (${notes.join(", ")})`;
}

/** Fill `card` with the connection of `config`; `reload(what)` runs after a connect or a disconnect. */
/** The connection line: where it syncs, as whom, and when it last did. */
export function connectionState(config) {
  if (!config.connected) {
    return "Not connected: give a token that may push (or a GitHub App), validate it, then " +
      "pick a repository and a branch.";
  }
  const how = config.auth === "app" ?
    ` as GitHub App ${config.app_id} (installation ${config.installation_id})` : "";
  return `Connected to ${config.repository} on ${config.branch}${how}` +
    (config.synced_at ? `, last synced ${when(config.synced_at)}` : ", never synced");
}

export function showConnection(card, config, reload) {
  const message = h("p", { id: "connect-message", class: "message" });
  const keep = config.connected ? "empty: keep the stored one" : null;

  const kinds = [["token", "Personal access token"], ["app", "GitHub App"]];
  const radios = kinds.map(([value, label]) => h("label", { for: `auth-${value}`, class: "choice" },
    h("input", { type: "radio", name: "github-auth", value, id: `auth-${value}`,
      checked: value === (config.auth || "token") }), ` ${label}`));
  const token = h("input", { id: "github-token", type: "password", autocomplete: "off",
    placeholder: keep || "ghp_… or github_pat_…" });
  const appId = h("input", { id: "app-id", autocomplete: "off", inputmode: "numeric",
    value: config.app_id || "", placeholder: "the app's page, About: App ID" });
  const installation = h("input", { id: "app-installation", autocomplete: "off",
    inputmode: "numeric", value: config.installation_id ?? "",
    placeholder: "empty: found by Bifrost" });
  const privateKey = h("textarea", { id: "app-private-key", rows: 3, autocomplete: "off",
    spellcheck: "false", placeholder: keep || "-----BEGIN RSA PRIVATE KEY-----…" });
  const keyFile = h("input", { id: "app-key-file", type: "file", accept: ".pem" });
  keyFile.addEventListener("change", async () => {
    if (keyFile.files[0]) privateKey.value = await keyFile.files[0].text();
    keyFile.value = ""; // the key stays in the text box only
  });
  const tokenFields = h("div", { id: "token-fields" }, field("GitHub token", token));
  const appFields = h("div", { id: "app-fields" }, field("App ID", appId),
    field("Installation ID (optional)", installation), field("Private key (PEM)", privateKey),
    field("Or read the .pem file", keyFile));
  const validate = h("button", { type: "button", id: "validate" }, "Validate");

  const search = h("input", { id: "repository-search", type: "search", autocomplete: "off",
    placeholder: "part of owner/name", "aria-controls": "github-repository", disabled: true });
  const repositoryList = h("select", { id: "github-repository", size: 6, disabled: true,
    "aria-describedby": "repository-count" });
  const count = h("p", { id: "repository-count", class: "hint", role: "status" },
    "Validate the credential to list the repositories it can use.");
  const branchList = h("select", { id: "github-branch", disabled: true });
  const connect = h("button", { type: "submit", class: "primary", id: "connect" },
    config.connected ? "Save connection" : "Connect");
  const form = h("form", { id: "connect-form" },
    h("fieldset", { id: "auth-choice" }, h("legend", {}, "Connect with"), radios),
    tokenFields, appFields, validate,
    field("Find a repository", search), field("Repository", repositoryList), count,
    field("Branch", branchList), connect, message);

  const chosen = () => form.elements["github-auth"].value;
  /** The credential as the API takes it; {} keeps the stored one (once connected). */
  function credential() {
    if (chosen() === "token") return token.value.trim() ? { token: token.value.trim() } : {};
    const key = privateKey.value.trim();
    if (!key && config.connected) return {};
    const body = { app_id: appId.value.trim() || null, private_key: key || null };
    const number = installation.value.trim();
    if (number) body.installation_id = /^\d+$/.test(number) ? Number(number) : number;
    return body;
  }

  let repositories = [];
  let more = false;
  function showRepositories(selected = repositoryList.value) {
    const wanted = search.value.trim().toLowerCase();
    const shown = repositories.filter((r) => r.full_name.toLowerCase().includes(wanted));
    fill(repositoryList, shown.map((r) => h("option", { value: r.full_name,
      selected: r.full_name === selected }, describe(r))));
    count.textContent = `${shown.length} of ${repositories.length} repositories` +
      (more ? ` (the first ${repositories.length}: filter to find another)` : "") +
      (shown.length ? "" : ": none matches");
  }
  async function listRepositories(selected, branch) {
    count.textContent = "listing the repositories…";
    try {
      ({ items: repositories, more } = await everyPage("/api/github/repositories",
        { ...credential(), per_page: 100 }));
    } catch (error) {
      count.textContent = "";
      say(message, error.message, "error");
      return;
    }
    search.disabled = repositoryList.disabled = false;
    showRepositories(selected);
    if (repositoryList.value) await listBranches(branch);
  }

  let asked = 0;
  async function listBranches(preferred) {
    const repository = repositories.find((r) => r.full_name === repositoryList.value);
    if (!repository) return;
    const mine = ++asked;
    branchList.disabled = true;
    fill(branchList, h("option", { value: "" }, "listing the branches…"));
    let names;
    try {
      const { items } = await everyPage("/api/github/branches",
        { ...credential(), repository: repository.full_name });
      names = items.map((b) => b.name);
    } catch (error) {
      if (mine === asked) say(message, error.message, "error");
      return;
    }
    if (mine !== asked) return; // another repository was picked meanwhile
    const fallback = repository.default_branch || "main";
    const pick = [preferred, fallback].find((name) => names.includes(name)) ?? names[0];
    fill(branchList, names.length ?
      names.map((name) => h("option", { value: name, selected: name === pick },
        name === repository.default_branch ? `${name} (default)` : name)) :
      h("option", { value: fallback }, `${fallback} (empty repository: the first sync creates it)`));
    branchList.disabled = false;
  }

  let pending = null;
  repositoryList.addEventListener("change", () => {
    clearTimeout(pending);
    pending = setTimeout(() => listBranches(), PICK_DELAY_MS);
  });
  search.addEventListener("input", () => showRepositories());
  search.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "Enter") return;
    event.preventDefault(); // Enter here picks from the list, it does not connect
    if (!repositoryList.options.length) return;
    if (!repositoryList.value) {
      repositoryList.selectedIndex = 0;
      repositoryList.dispatchEvent(new Event("change"));
    }
    repositoryList.focus();
  });

  validate.addEventListener("click", async () => {
    say(message, "asking GitHub…");
    try {
      const viewer = await sendJson("POST", "/api/github/validate", credential());
      say(message, chosen() === "token" ? `the token belongs to ${viewer.login}` :
        `the app signs in as ${viewer.login}`, "ok");
    } catch (error) {
      say(message, error.message, "error");
      return;
    }
    await listRepositories(repositoryList.value || config.repository, config.branch);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [repository, branch] = [repositoryList.value, branchList.value];
    if (!repository || !branch) {
      say(message, repositories.length ? "pick a repository and a branch" :
        "validate the credential first: then pick a repository and a branch", "error");
      (repositories.length ? repositoryList : validate).focus();
      return;
    }
    say(message, "connecting…");
    try {
      await sendJson("POST", "/api/github/configure", { repository, branch, ...credential() });
    } catch (error) {
      say(message, error.message, "error");
      return;
    }
    await reload("connected");
  });

  const name = h("input", { id: "new-repository", required: true, placeholder: "my-automation" });
  const isPrivate = h("input", { id: "new-private", type: "checkbox", checked: true });
  const create = h("form", { id: "create-repository", class: "inline" },
    field("New repository", name),
    h("label", { for: "new-private", class: "choice" }, isPrivate, " private"),
    h("button", { type: "submit" }, "Create"));
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await sendJson("POST", "/api/github/create-repository",
        { name: name.value.trim(), private: isPrivate.checked, ...credential() });
      repositories = [made, ...repositories.filter((r) => r.full_name !== made.full_name)];
      search.value = "";
      search.disabled = repositoryList.disabled = false;
      showRepositories(made.full_name);
      await listBranches();
      say(message, `created ${made.full_name}: ${config.connected ? "save the connection" : "connect"} to use it`, "ok");
      repositoryList.focus();
    } catch (error) {
      say(message, error.message, "error");
    }
  });
  const createPart = h("div", { id: "create-part" }, h("h3", {}, "Or create a repository"), create);
  const appCreates = h("p", { class: "hint", id: "app-creates" }, "A GitHub App cannot create " +
    "repositories for a person: create it on GitHub and install the app on it, then validate again.");

  function showKind() {
    const app = chosen() === "app";
    tokenFields.hidden = app;
    appFields.hidden = !app;
    createPart.hidden = app;
    appCreates.hidden = !app;
  }
  form.addEventListener("change", (event) => {
    if (event.target.name !== "github-auth") return;
    showKind();
    repositories = []; // another credential sees other repositories: validate it
    search.disabled = repositoryList.disabled = branchList.disabled = true;
    repositoryList.replaceChildren();
    branchList.replaceChildren();
    count.textContent = "Validate the credential to list the repositories it can use.";
    if (config.connected && chosen() === config.auth) listRepositories(config.repository, config.branch);
  });
  showKind();

  const parts = [h("h2", { id: "connection-title" }, "Connection"),
    h("p", { id: "connection-state" }, connectionState(config)), form, createPart, appCreates];
  if (config.connected) {
    const disconnect = h("button", { type: "button", id: "disconnect", class: "danger" }, "Disconnect");
    disconnect.addEventListener("click", async () => {
      try {
        await sendJson("POST", "/api/github/disconnect", {});
        await reload("disconnected");
      } catch (error) {
        say(message, error.message, "error");
      }
    });
    parts.push(disconnect);
    listRepositories(config.repository, config.branch); // with the stored credential
  }
  fill(card, parts);
}
