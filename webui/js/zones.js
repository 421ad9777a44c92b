// Wall-clock times of a named time zone (the team's, team.time_zone), with the
// browser's Intl tables: the window may run on a computer set to another zone than the
// team's, and what the tray computes in the team's zone (agent/desktop/view.py) the
// window must compute alike.

const formats = new Map();

function format(zone) {
  if (!formats.has(zone)) {
    formats.set(
      zone,
      new Intl.DateTimeFormat("en-GB", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      }),
    );
  }
  return formats.get(zone);
}

// The zone's name when the browser knows it, else "UTC" (as the agent treats a zone
// it cannot load: agent/desktop/wiring.py team_zone).
export function knownZone(name) {
  if (!name) return "UTC";
  try {
    format(name);
    return name;
  } catch (_) {
    return "UTC";
  }
}

// {y, m, d, H, M, S} of the zone's clock at `date`.
export function clockIn(zone, date) {
  const parts = Object.fromEntries(format(zone).formatToParts(date).map((p) => [p.type, p.value]));
  return { y: +parts.year, m: +parts.month, d: +parts.day, H: +parts.hour, M: +parts.minute, S: +parts.second };
}

function offsetMs(zone, date) {
  const c = clockIn(zone, date);
  const whole = Math.floor(date.getTime() / 1000) * 1000;
  return Date.UTC(c.y, c.m - 1, c.d, c.H, c.M, c.S) - whole;
}

// The moment the zone's clock shows y-m-d H:M (the offset is found again at the
// result, so a daylight-saving change between the guess and the answer is respected).
export function atWallClock(zone, y, m, d, H, M = 0) {
  const wall = Date.UTC(y, m - 1, d, H, M);
  const first = wall - offsetMs(zone, new Date(wall));
  return new Date(wall - offsetMs(zone, new Date(first)));
}

// B12 "until tomorrow 09:00": tomorrow's `hour` o'clock on the zone's calendar.
export function tomorrowAt(zone, now = new Date(), hour = 9) {
  const today = clockIn(zone, now);
  const next = new Date(Date.UTC(today.y, today.m - 1, today.d + 1));
  return atWallClock(zone, next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), hour);
}
