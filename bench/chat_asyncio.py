#!/usr/bin/python3
"""The peer of the chat benchmark: the chat line protocol (examples/chat/README.md) on Python's
asyncio, standard library only, written the straightforward way one would: one coroutine per
connection, rooms as dicts of members, writes through each member's StreamWriter.

    bench/chat_asyncio.py --port=0      # prints "chat on port N"

Same rules as the troupe server: names of 1-32 [A-Za-z0-9_-], lines of at most 4096 bytes,
history of 100 per room, a member with more than 1 MiB of unsent output is disconnected.
"""
import argparse
import asyncio
import re

NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_LINE = 4096
MAX_OUTPUT = 1 << 20


class Server:
    def __init__(self):
        self.nicks = {}   # nick -> Client
        self.rooms = {}   # room -> {"members": {Client}, "history": [lines]}

    def room(self, name):
        return self.rooms.setdefault(name, {"members": set(), "history": []})


class Client:
    def __init__(self, server, writer):
        self.server, self.writer = server, writer
        self.nick, self.joined = None, []

    def send(self, line):
        if self.writer.is_closing():
            return
        self.writer.write(line.encode())
        if self.writer.transport.get_write_buffer_size() > MAX_OUTPUT:
            self.writer.transport.abort()

    def broadcast(self, room, line, except_self=False):
        for member in list(self.server.rooms[room]["members"]):
            if not (except_self and member is self):
                member.send(line)

    def leave_all(self):
        for room in self.joined:
            self.server.rooms[room]["members"].discard(self)
            self.broadcast(room, f"* {self.nick} left {room}\n")
        self.joined = []
        if self.nick and self.server.nicks.get(self.nick) is self:
            del self.server.nicks[self.nick]

    def handle(self, line):
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            return self.send("! empty line\n")
        if not line.startswith("/"):
            if not self.nick:
                return self.send("! choose a nick first: /nick NAME\n")
            if not self.joined:
                return self.send("! join a room first: /join ROOM\n")
            return self.say(self.joined[-1], line)
        verb, _, rest = line.partition(" ")
        if verb in ("/nick", "/join", "/leave", "/who"):
            if not NAME.match(rest):
                return self.send(f"! usage: {verb} {'NAME' if verb == '/nick' else 'ROOM'} "
                                 "(1-32 of A-Z a-z 0-9 _ -)\n")
        if verb in ("/join", "/leave", "/say", "/msg") and not self.nick:
            return self.send("! choose a nick first: /nick NAME\n")
        if verb == "/nick":
            if rest in self.server.nicks and self.server.nicks[rest] is not self:
                return self.send(f"! nick {rest} is in use\n")
            if self.joined and rest != self.nick:
                return self.send("! leave your rooms before changing your nick\n")
            if self.nick:
                self.server.nicks.pop(self.nick, None)
            self.nick = rest
            self.server.nicks[rest] = self
            return self.send(f"* nick {rest}\n")
        if verb == "/join":
            if rest in self.joined:
                return self.send(f"! already in {rest}\n")
            room = self.server.room(rest)
            self.send(f"* joined {rest}\n")
            for h in room["history"]:
                self.send("# " + h)
            self.broadcast(rest, f"* {self.nick} joined {rest}\n")
            room["members"].add(self)
            self.joined.append(rest)
            return
        if verb == "/leave":
            if rest not in self.joined:
                return self.send(f"! not in {rest}\n")
            self.joined.remove(rest)
            self.server.rooms[rest]["members"].discard(self)
            self.send(f"* left {rest}\n")
            return self.broadcast(rest, f"* {self.nick} left {rest}\n")
        if verb in ("/say", "/msg"):
            target, _, text = rest.partition(" ")
            if not NAME.match(target) or not text:
                return self.send(f"! usage: {verb} {'ROOM' if verb == '/say' else 'NICK'} text\n")
            if verb == "/msg":
                other = self.server.nicks.get(target)
                if other is None:
                    return self.send(f"! no user {target}\n")
                return other.send(f"[pm] {self.nick}: {text}\n")
            if target not in self.joined:
                return self.send(f"! not in {target}\n")
            return self.say(target, text)
        if verb == "/rooms" and not rest:
            return self.send(" ".join(["* rooms"] + sorted(self.server.rooms)) + "\n")
        if verb == "/who":
            if rest not in self.server.rooms:
                return self.send(f"! no room {rest}\n")
            names = sorted(m.nick for m in self.server.rooms[rest]["members"])
            return self.send(" ".join([f"* who {rest}"] + names) + "\n")
        if verb == "/quit" and not rest:
            self.send("* bye\n")
            self.leave_all()
            return "quit"
        if verb in ("/rooms", "/quit"):
            return self.send(f"! {verb} takes no argument\n")
        return self.send(f"! unknown command {verb[:64]}\n")

    def say(self, room, text):
        line = f"[{room}] {self.nick}: {text}\n"
        history = self.server.rooms[room]["history"]
        history.append(line)
        del history[:-100]
        self.broadcast(room, line)


async def serve_client(server, reader, writer):
    client = Client(server, writer)
    try:
        while True:
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                client.send("! line too long (max 4096 bytes)\n")
                # Skip the rest of the long line.
                while True:
                    try:
                        await reader.readuntil(b"\n")
                        break
                    except asyncio.LimitOverrunError as e:
                        await reader.readexactly(e.consumed)
                continue
            if client.handle(raw[:-1].decode("utf-8", errors="replace")) == "quit":
                break
            await writer.drain() if writer.transport.get_write_buffer_size() > MAX_OUTPUT // 2 else None
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        client.leave_all()
        writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=7070)
    args = p.parse_args()
    server = Server()
    srv = await asyncio.start_server(lambda r, w: serve_client(server, r, w), "127.0.0.1",
                                     args.port, limit=MAX_LINE + 2)
    print(f"chat on port {srv.sockets[0].getsockname()[1]}", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
