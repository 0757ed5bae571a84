// Topology → alertmanager.yml, a typed object written with the yaml library. Every alert goes to
// every webhook the model declares (one receiver each, the root route continuing through them);
// with none declared, alerts are only shown in Alertmanager's UI and API.
//
// Webhook URLs carry tokens, so the model names the environment variable that holds each one; who
// renders decides how that becomes a URL (the local runtime reads the environment, the CDKTF stack
// a sensitive Terraform variable, a plan shows a placeholder): see `WebhookUrls`.
import type { Topology } from "../model/schema.ts";
import { AlertReceiverUnsetError } from "../errors.ts";
import { generatedYaml, type GeneratedHeader } from "./yaml.ts";

/** The configuration file, beside Prometheus's. */
export const ALERTMANAGER_CONFIG_FILE = "alertmanager.yml";

/** The receiver of the root route: takes what no webhook does (the UI still shows every alert). */
const UI_ONLY_RECEIVER = "ui-only";

type Webhook = Topology["services"]["alertmanager"]["webhooks"][number];

/** How a webhook's URL is written into the file. */
export type WebhookUrls = (webhook: Webhook, index: number) => string;

export interface AlertmanagerConfig {
  route: {
    receiver: string;
    group_by: string[];
    group_wait: string;
    group_interval: string;
    repeat_interval: string;
    routes: { receiver: string; continue: true }[];
  };
  receivers: { name: string; webhook_configs?: { url: string; send_resolved: boolean }[] }[];
}

export function alertmanagerConfig(topology: Topology, urls: WebhookUrls): AlertmanagerConfig {
  const { groupWait, groupInterval, repeatInterval, webhooks } = topology.services.alertmanager;
  return {
    route: {
      receiver: UI_ONLY_RECEIVER,
      group_by: ["alertname", "job", "instance", "proxy"],
      group_wait: groupWait,
      group_interval: groupInterval,
      repeat_interval: repeatInterval,
      routes: webhooks.map((w) => ({ receiver: w.name, continue: true as const })),
    },
    receivers: [{ name: UI_ONLY_RECEIVER }, ...webhooks.map((w, i) => ({ name: w.name, webhook_configs: [{ url: urls(w, i), send_resolved: w.sendResolved }] }))],
  };
}

export const renderAlertmanagerConfig = (topology: Topology, urls: WebhookUrls, header: Omit<GeneratedHeader, "topology">): string =>
  generatedYaml(alertmanagerConfig(topology, urls), { ...header, topology: topology.name });

/** The local runtime's URLs: each from its environment variable, refused when the variable is unset. */
export const webhookUrlsFromEnvironment =
  (env: NodeJS.ProcessEnv): WebhookUrls =>
  (webhook, index) => {
    const url = env[webhook.urlFromEnv];
    if (!url) throw new AlertReceiverUnsetError(`services.alertmanager.webhooks[${index}].urlFromEnv`, webhook.urlFromEnv);
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw new AlertReceiverUnsetError(`services.alertmanager.webhooks[${index}].urlFromEnv`, webhook.urlFromEnv, "is not an http(s) URL");
    return url;
  };

/** For a plan or a review: says where the URL comes from and never holds a secret. */
export const webhookUrlPlaceholders: WebhookUrls = (webhook) => `http://from-environment.invalid/${webhook.urlFromEnv}`;
