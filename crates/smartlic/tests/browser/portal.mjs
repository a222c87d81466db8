// Drives the portal in Debian's headless Chromium with playwright-core, for
// tests/portal_browser.rs. One stage per run, so the Rust test can act between them:
//   node portal.mjs token  URL EMAIL PASSWORD_FILE
//       log in, open the DEFAULT virtual account, create a token; prints {"token": …}
//   node portal.mjs verify URL EMAIL PASSWORD_FILE HOSTNAME SKU SCREENSHOT
//       log in, find the instance and its SKU's usage, revoke the token, save a screenshot, then
//       add a webhook on the Webhooks page and remove it;
//       prints {"instance": bool, "in_use": n, "revoked": bool, "chart_bars": n, "webhook_added": bool,
//               "webhook_secret_chars": n, "webhook_removed": bool}
//   node portal.mjs users URL EMAIL PASSWORD_FILE OTHER_EMAIL
//       log in, open the Users page from the menu, disable OTHER_EMAIL, enable them again, rotate
//       their API key, then rotate one's own key on the "My API key" page;
//       prints {"listed": bool, "disabled": bool, "enabled": bool, "key": …, "own_key": …}
//   node portal.mjs reserve URL EMAIL PASSWORD_FILE SKU COUNT REQUEST_CODE_FILE
//       log in, open the DEFAULT virtual account, follow "Reserve licences", paste the request
//       code, ask for COUNT of SKU; prints {"authorization": …, "listed": bool}
//   node portal.mjs satellite URL EMAIL PASSWORD_FILE NAME
//       log in, open the Satellites page from the menu, create satellite NAME of DEFAULT;
//       choose a file for "Answer a request" and see it fill the text area;
//       prints {"token": …, "listed": bool, "filled": bool}
// playwright-core comes from SMARTLIC_PLAYWRIGHT (a directory holding node_modules), Chromium from
// SMARTLIC_CHROMIUM (default /usr/bin/chromium). Any failure exits non-zero with a message.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const dir = process.env.SMARTLIC_PLAYWRIGHT || "/tmp/smartlic-playwright";
const require = createRequire(dir.replace(/\/?$/, "/"));
const { chromium } = require("playwright-core");

const [stage, url, email, passwordFile, ...rest] = process.argv.slice(2);
const password = readFileSync(passwordFile, "utf8").trim();

const browser = await chromium.launch({
  executablePath: process.env.SMARTLIC_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
// The manager's CA is the test's own; the browser is told to accept it for this context only.
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 900 } });
const page = await context.newPage();
page.on("dialog", (d) => d.accept());
try {
  await page.goto(url + "/", { waitUntil: "load" });
  // Not logged in: the portal sends us to the log-in page.
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("button[type=submit]")]);
  if (stage !== "users" && stage !== "satellite") {
    await page.getByRole("link", { name: "DEFAULT" }).click();
    await page.waitForURL(/\/va\//);
  }

  if (stage === "token") {
    await page.fill("input[name=description]", "from the browser test");
    await page.fill("input[name=max_uses]", "2");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.locator("#new-token").textContent({ timeout: 10000 })).trim();
    if (!token) throw new Error("no token shown after Create token");
    console.log(JSON.stringify({ token }));
  } else if (stage === "verify") {
    const [hostname, sku, screenshot] = rest;
    const instances = page.locator("section", { has: page.getByRole("heading", { name: "Product instances" }) });
    const instance = (await instances.locator("tr", { hasText: hostname }).count()) > 0;
    const licences = page.locator("section", { has: page.getByRole("heading", { name: "Licences" }) });
    const row = licences.locator("tr", { hasText: sku });
    // Columns: SKU, description, purchased, in use, …
    const inUse = Number((await row.locator("td").nth(3).textContent()).trim());
    // The usage chart: one SVG per SKU, a bar for today.
    const chartBars = await page.locator(`figure.chart:has(code:text-is("${sku}")) svg rect.bar`).count();
    const tokens = page.locator("section", { has: page.getByRole("heading", { name: "Registration tokens" }) });
    const tokenRow = tokens.locator("tr", { hasText: "from the browser test" });
    await tokenRow.getByRole("button", { name: "Revoke" }).click();
    await page.waitForLoadState("load");
    const after = page.locator("section", { has: page.getByRole("heading", { name: "Registration tokens" }) });
    const revoked = (await after.locator("tr", { hasText: "from the browser test" }).textContent()).includes("REVOKED");
    await page.screenshot({ path: screenshot, fullPage: true });
    // The webhooks page, from the menu: add one (its secret shown once), then remove it.
    await Promise.all([page.waitForURL((u) => u.pathname === "/webhooks"), page.getByRole("link", { name: "Webhooks" }).click()]);
    await page.fill("input[name=url]", "https://alerts.acme.example/browser");
    await page.getByRole("button", { name: "Add webhook" }).click();
    const secret = (await page.locator("#new-secret").textContent({ timeout: 10000 })).trim();
    const hooks = () => page.locator("tr", { hasText: "https://alerts.acme.example/browser" });
    const webhookAdded = (await hooks().count()) === 1;
    await hooks().getByRole("button", { name: "Remove" }).click();
    await page.waitForURL((u) => u.pathname === "/webhooks");
    await page.getByText("No webhook yet").waitFor({ timeout: 10000 });
    const webhookRemoved = (await hooks().count()) === 0;
    console.log(
      JSON.stringify({
        instance,
        in_use: inUse,
        revoked,
        chart_bars: chartBars,
        webhook_added: webhookAdded,
        webhook_secret_chars: secret.length,
        webhook_removed: webhookRemoved,
      }),
    );
  } else if (stage === "reserve") {
    const [sku, count, requestFile] = rest;
    await Promise.all([
      page.waitForURL(/\/reservations$/),
      page.getByRole("link", { name: "Reserve licences" }).click(),
    ]);
    await page.fill("textarea[name=request_code]", readFileSync(requestFile, "utf8").trim());
    await page.fill(`input[name="qty.${sku}"]`, count);
    await page.getByRole("button", { name: "Reserve", exact: true }).click();
    const authorization = (await page.locator("#authorization-code").inputValue({ timeout: 10000 })).trim();
    const reservations = page.locator("section", { has: page.getByRole("heading", { name: "Reservations" }) });
    const listed = (await reservations.locator("tr", { hasText: "RESERVED" }).count()) === 1;
    console.log(JSON.stringify({ authorization, listed }));
  } else if (stage === "satellite") {
    const [name] = rest;
    await Promise.all([
      page.waitForURL((u) => u.pathname === "/satellites"),
      page.getByRole("link", { name: "Satellites" }).click(),
    ]);
    await page.selectOption("select[name=va]", { label: "DEFAULT" });
    await page.fill("input[name=name]", name);
    await page.getByRole("button", { name: "Create satellite" }).click();
    const token = (await page.locator("#satellite-token").inputValue({ timeout: 10000 })).trim();
    const row = page.locator("tr", { hasText: name });
    const listed = (await row.count()) === 1 && (await row.textContent()).includes("never");
    // "Answer a request": a chosen file fills the text area (portal.js). The token can be read
    // while the page is still loading; portal.js (deferred) listens only once it has run.
    await page.waitForLoadState("load");
    const file = '{"format":"smartlic-satellite/1","kind":"request"}';
    await page.setInputFiles("input[data-fill=request-file]", {
      name: "request.json",
      mimeType: "application/json",
      buffer: Buffer.from(file),
    });
    const filled = await page
      .waitForFunction((f) => document.getElementById("request-file").value === f, file, { timeout: 10000 })
      .then(() => true, () => false);
    console.log(JSON.stringify({ token, listed, filled }));
  } else if (stage === "users") {
    const [other] = rest;
    await Promise.all([page.waitForURL((u) => u.pathname === "/users"), page.getByRole("link", { name: "Users" }).click()]);
    const row = () => page.locator("tr", { hasText: other });
    const listed = (await row().count()) === 1 && (await row().locator("span.ok").textContent()).trim() === "ENABLED";
    // Disable (the confirmation is accepted), then enable again: the status cell follows.
    await row().getByRole("button", { name: "Disable" }).click();
    await row().locator("span.bad", { hasText: "DISABLED" }).waitFor({ timeout: 10000 });
    const disabled = (await row().getByRole("button", { name: "Enable" }).count()) === 1;
    await row().getByRole("button", { name: "Enable" }).click();
    await row().locator("span.ok", { hasText: "ENABLED" }).waitFor({ timeout: 10000 });
    const enabled = (await row().getByRole("button", { name: "Disable" }).count()) === 1;
    // A new key for them, shown once.
    await row().getByRole("button", { name: "Rotate key" }).click();
    const key = (await page.locator("#new-key").textContent({ timeout: 10000 })).trim();
    // One's own key, from the menu.
    await Promise.all([
      page.waitForURL((u) => u.pathname === "/account/key"),
      page.getByRole("link", { name: "My API key" }).click(),
    ]);
    await page.getByRole("button", { name: "Rotate my API key" }).click();
    const ownKey = (await page.locator("#new-key").textContent({ timeout: 10000 })).trim();
    console.log(JSON.stringify({ listed, disabled, enabled, key, own_key: ownKey }));
  } else {
    throw new Error(`unknown stage ${stage}`);
  }
} catch (e) {
  const shot = "/tmp/smartlic-portal-failure.png";
  await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
  console.error(`portal.mjs ${stage} failed at ${page.url()}: ${e.message}\n(screenshot ${shot})`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
