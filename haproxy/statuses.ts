// HTTP statuses as HAProxy 2.6 knows them.

/**
 * The statuses HAProxy has an error message for: the only ones an errorfile can serve and a deny or
 * tarpit rule can answer with (haproxy -c refuses others: "not handled by default").
 */
export const HAPROXY_ERROR_STATUSES = [200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504] as const;
