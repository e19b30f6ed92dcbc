"""Welcome, time zone, help and privacy inside the service."""

from __future__ import annotations

import asyncio

from bot.homework import HomeworkTurn
from bot.turn import help_reply, say
from flows import timezones
from flows.content import load
from flows.replies import Button, Reply, rows

ONBOARDING = "onboarding"  # the time-zone question asked by /start
TIMEZONE = "timezone"  # the same question asked by /timezone
ZONE_FLOWS = (ONBOARDING, TIMEZONE)


class OnboardingTurn(HomeworkTurn):
    def ask_zone(self, lead: list[Reply]) -> list[Reply]:
        zones = load("messages")["timezone_buttons"]
        buttons = [Button(label, f"Z:{zone}") for label, zone in zones]
        return [
            *lead,
            Reply(say("ask_timezone"), rows(buttons, 2)),
            Reply(say("ask_location"), ask_location=True),
        ]

    async def set_zone(self, zone: str) -> list[Reply]:
        """A new zone moves every reminder to the new wall clock; the first one set during
        /start leads on to the homework offer."""
        onboarding = self.user.active_flow == ONBOARDING
        self.user.timezone = zone
        self.set_flow(None)
        await self.replan_all()
        done = Reply(
            say("timezone_set", zone=zone, local_time=f"{self.local(self.now):%H:%M}"),
            remove_keyboard=True,
        )
        if onboarding:
            return [done, *await self.start_setup()]
        return [done]

    async def zone_text(self, typed: str) -> list[Reply]:
        zone = await asyncio.to_thread(timezones.resolve, typed)
        if zone is None:
            return [Reply(say("timezone_unknown", text=typed.strip()[:60]))]
        return await self.set_zone(zone)

    async def zone_location(self, latitude: float, longitude: float) -> list[Reply]:
        if self.user.active_flow not in ZONE_FLOWS:
            return [Reply(say("location_outside"))]
        zone = await asyncio.to_thread(timezones.from_location, latitude, longitude)
        if zone is None:
            return [Reply(say("timezone_location_unknown"))]
        return await self.set_zone(zone)

    async def zone_choice(self, zone: str) -> list[Reply] | None:
        if self.user.active_flow not in ZONE_FLOWS:
            return None
        if zone not in {z for _, z in load("messages")["timezone_buttons"]}:
            return None
        return await self.set_zone(zone)

    async def start(self, _args: str) -> list[Reply]:
        welcome = Reply(say("welcome"))
        if self.user.timezone is not None:
            local_time = f"{self.local(self.now):%H:%M}"
            current = say("timezone_current", zone=self.user.timezone, local_time=local_time)
            return [welcome, Reply(current), help_reply()]
        self.set_flow(ONBOARDING)
        return self.ask_zone([welcome])

    async def timezone(self, args: str) -> list[Reply]:
        if args:
            zone = await asyncio.to_thread(timezones.resolve, args)
            if zone is None:
                return [Reply(say("timezone_unknown", text=args[:60]))]
            return await self.set_zone(zone)
        self.set_flow(TIMEZONE)
        local_time = f"{self.local(self.now):%H:%M}"
        current = say("timezone_current", zone=self.zone_name(), local_time=local_time)
        return self.ask_zone([Reply(current)])

    async def help(self, _args: str) -> list[Reply]:
        return [help_reply()]
