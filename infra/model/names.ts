// The model's names, its shared scalars (file names, environment variable names, whole numbers in a
// range) and how its messages quote a value: shared by the topology's schema and its parts.
import { z } from "zod";

/** A value as a message quotes it. */
export const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

/** Proxy (frontend/backend), server, route and table names: what HAProxy accepts in a name. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const Name = z.string().regex(NAME_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a valid name: use 1 to 64 letters, digits or "_.:-" (no spaces, "#" or line breaks)`,
}).meta({ title: "name" });

/** A file name inside a directory chosen by the render target (error pages, certificates). */
const FILE_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$/;
export const FileName = z.string().regex(FILE_NAME_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a file name: use letters, digits and "._-", no directories`,
}).meta({ title: "file name" });

/** An environment variable's name: where a secret comes from, so that none is in the repository. */
const ENV_NAME_PATTERN = /^[A-Z_][A-Z0-9_]{0,127}$/;
export const EnvName = z.string().regex(ENV_NAME_PATTERN, {
  error: (iss) => `${show(iss.input)} is not an environment variable name: use capitals, digits and "_" (e.g. "LB_ALERT_WEBHOOK_URL")`,
}).meta({ title: "environment variable name" });

/** A whole number from min to max, named in the message ("a port", "a weight"). */
export const intIn = (min: number, max: number, what: string) =>
  z
    .number({ error: (iss) => `${show(iss.input)} is not ${what}: use a whole number from ${min} to ${max}` })
    .int({ error: (iss) => `${show(iss.input)} is not ${what}: use a whole number from ${min} to ${max}` })
    .min(min, { error: (iss) => `${show(iss.input)} is not ${what}: use a whole number from ${min} to ${max}` })
    .max(max, { error: (iss) => `${show(iss.input)} is not ${what}: use a whole number from ${min} to ${max}` });
