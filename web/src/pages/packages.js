// Packages: the requirements and what each worker installed, an install box with the installer's
// live output (job:<id> on the WebSocket, subscribed before the install starts), removal.
import { h, fill, say, field, confirmInline } from "../dom.js";
import { getJson, sendJson, request } from "../api.js";
import { live } from "../live.js";

function jobId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)),
    (b) => b.toString(16).padStart(2, "0")).join("");
}

export default {
  id: "packages",
  title: "Packages",
  mount(root) {
    const list = h("ul", { id: "package-list", class: "rows" });
    const workers = h("div", { id: "package-workers" });
    const message = h("p", { id: "install-message", class: "message" });
    const output = h("pre", { id: "install-output", class: "logs", tabindex: "0",
      role: "log", "aria-label": "Installer output" });
    const requirement = h("input", { id: "requirement", required: true,
      placeholder: "requests>=2.31", autocomplete: "off" });
    const install = h("button", { id: "install", type: "submit", class: "primary" }, "Install");
    const form = h("form", { id: "install-form", class: "inline" },
      field("Requirement (PEP 508)", requirement), install);
    const unsubscribes = [];

    fill(root, h("h1", {}, "Packages"),
      h("section", { class: "card", "aria-labelledby": "install-title" },
        h("h2", { id: "install-title" }, "Install"), form, message, output),
      h("section", { class: "card", "aria-labelledby": "installed-title" },
        h("h2", { id: "installed-title" }, "Requirements"), list, workers));

    async function refresh() {
      try {
        const body = await getJson("/api/packages");
        fill(list, body.packages.map((item) => h("li", {},
          h("span", { class: "grow" }, h("strong", {}, item.name), " ",
            h("code", {}, item.requirement), " ",
            h("span", { class: "hint" }, item.installed_version ?
              `installed ${item.installed_version}` : "not installed")),
          h("button", { type: "button", class: "remove danger", "aria-label": `Remove ${item.name}`,
            onclick: (event) => remove(item.name, event.target.parentElement) }, "Remove"))));
        const failures = body.workers.flatMap((worker) => [
          ...Object.entries(worker.failed).map(([name, why]) =>
            h("li", { class: "failed" }, h("strong", {}, `${worker.id || "a worker"}: ${name} failed`),
              h("pre", { class: "logs" }, why))),
          worker.error ? h("li", { class: "failed" }, `${worker.id || "a worker"}: ${worker.error}`) : null,
        ]);
        fill(workers, failures.length ? [h("h3", {}, "Failures"), h("ul", { class: "rows" }, failures)] : null);
      } catch (error) {
        say(message, error.message, "error");
      }
    }

    async function remove(name, row) {
      confirmInline(row, `Remove ${name} from requirements.txt?`, "Remove", async () => {
        say(message, `removing ${name}…`);
        try {
          await request("DELETE", `/api/packages/${encodeURIComponent(name)}`);
          say(message, `removed ${name}`, "ok");
        } catch (error) {
          say(message, error.message, "error");
        }
        await refresh();
      });
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const wanted = requirement.value.trim();
      if (!wanted) return;
      install.disabled = true;
      output.textContent = "";
      say(message, `installing ${wanted}…`);
      const id = jobId();
      try {
        // Subscribed first, so no line of the installer's output is missed.
        let finished;
        const done = new Promise((resolve) => { finished = resolve; });
        unsubscribes.push(await live.subscribe(`job:${id}`, (event) => {
          if (event.type === "output") output.append(`${event.line}\n`);
          if (event.type === "progress") {
            output.append(`[${event.phase} ${event.current}/${event.total}] ${event.message || ""}\n`);
          }
          if (event.type === "done") finished(event);
          output.scrollTop = output.scrollHeight;
        }));
        const response = await request("POST", "/api/packages/install",
          { json: { requirement: wanted, wait: true, job_id: id } });
        if (response.status === 202) {
          say(message, `queued: waiting for a scheduler to install ${wanted}…`);
          const event = await done;
          if (!event.ok) throw new Error(event.error);
        }
        say(message, `installed ${wanted}`, "ok");
        requirement.value = "";
      } catch (error) {
        say(message, error.message, "error");
      } finally {
        install.disabled = false;
        await refresh();
      }
    });

    refresh();
    return () => unsubscribes.forEach((stop) => stop());
  },
};
