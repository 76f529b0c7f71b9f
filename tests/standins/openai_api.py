"""A stand-in for the OpenAI API (chat completions, streaming included, and embeddings).

It speaks enough of the protocol for the real `openai` client that llama-index's
OpenAILike and OpenAIEmbedding use. Base URL for the clients: `server.url + "/v1"`.
"""

from __future__ import annotations

import base64
import json
import time

import numpy as np

from tests.standins._server import JSONHandler, Reply, Request, StandInServer

MODEL = "standin-chat"


class OpenAIHandler(JSONHandler):
    def do_POST(self) -> None:
        request, reply = self.read_request()
        if reply.raw_body is not None:
            self.send_bytes(reply.status, reply.raw_body, "application/json")
        elif reply.status != 200:
            self.send_json(
                reply.status,
                {"error": {"message": reply.error, "type": "standin_error", "code": None}},
            )
        elif self.path.rstrip("/").endswith("/chat/completions"):
            self.chat(request, reply)
        elif self.path.rstrip("/").endswith("/embeddings"):
            self.embeddings(request)
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def chat(self, request: Request, reply: Reply) -> None:
        created = int(time.time())
        if not request.body.get("stream"):
            self.send_json(
                200,
                {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "created": created,
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
                interval=reply.interval,
            )
            self.standin.reply_sent()
            return
        self.start_stream("text/event-stream")

        def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
            payload = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        self.wfile.write(chunk({"role": "assistant", "content": ""}))
        self.stream_pieces(reply, lambda piece: self.wfile.write(chunk({"content": piece})))
        self.wfile.write(chunk({}, "stop"))
        self.wfile.write(b"data: [DONE]\n\n")
        self.standin.reply_sent()

    def embeddings(self, request: Request) -> None:
        inputs = request.body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        data = []
        for index, text in enumerate(texts):
            vector = self.standin.embed(str(text))
            if request.body.get("encoding_format") == "base64":
                encoded: object = base64.b64encode(
                    np.asarray(vector, dtype="<f4").tobytes()
                ).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        self.send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": request.body.get("model", "standin-embedding"),
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            },
        )


class OpenAIStandIn(StandInServer):
    handler_class = OpenAIHandler

    @property
    def base_url(self) -> str:
        return self.url + "/v1"
