// The model's names and how its messages quote a value: shared by the topology's schema and its parts.
import { z } from "zod";

/** A value as a message quotes it. */
export const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

/** Proxy (frontend/backend), server, route and table names: what HAProxy accepts in a name. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const Name = z.string().regex(NAME_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a valid name: use 1 to 64 letters, digits or "_.:-" (no spaces, "#" or line breaks)`,
});
