"""A stand-in for Ollama's own API: /api/chat (streamed as JSON lines, or not) and /api/embed.

It speaks enough of the protocol for the `ollama` client that llama-index's Ollama and
OllamaEmbedding use. Base URL for the clients: `server.url`.
"""

from __future__ import annotations

import json

from tests.standins._server import JSONHandler, Reply, Request, StandInServer

MODEL = "standin-chat"
CREATED_AT = "2025-01-01T00:00:00Z"


class OllamaHandler(JSONHandler):
    def do_POST(self) -> None:
        request, reply = self.read_request()
        if reply.raw_body is not None:
            self.send_bytes(reply.status, reply.raw_body, "application/json")
        elif reply.status != 200:
            self.send_json(reply.status, {"error": reply.error})
        elif self.path == "/api/chat":
            self.chat(request, reply)
        elif self.path == "/api/embed":
            inputs = request.body.get("input", [])
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            self.send_json(
                200,
                {
                    "model": request.body.get("model"),
                    "embeddings": [self.standin.embed(str(t)) for t in texts],
                },
            )
        else:
            self.send_json(404, {"error": f"no route {self.path}"})

    def chat(self, request: Request, reply: Reply) -> None:
        def message(content: str, done: bool) -> dict[str, object]:
            payload: dict[str, object] = {
                "model": MODEL,
                "created_at": CREATED_AT,
                "message": {"role": "assistant", "content": content},
                "done": done,
            }
            if done:
                payload.update(done_reason="stop", prompt_eval_count=1, eval_count=1)
            return payload

        if request.body.get("stream") is False:
            self.send_json(200, message(reply.text, True), interval=reply.interval)
            self.standin.reply_sent()
            return
        self.start_stream("application/x-ndjson")
        self.stream_pieces(
            reply,
            lambda piece: self.wfile.write(json.dumps(message(piece, False)).encode() + b"\n"),
        )
        self.wfile.write(json.dumps(message("", True)).encode() + b"\n")
        self.standin.reply_sent()


class OllamaStandIn(StandInServer):
    handler_class = OllamaHandler

    @property
    def base_url(self) -> str:
        return self.url
