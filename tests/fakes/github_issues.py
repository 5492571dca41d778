"""A loopback GitHub REST API for issues: create, update, and list a repository's issues.

Shape source: GitHub's REST reference, "Issues" (API version 2022-11-28). `POST /repos/{owner}/{repo}/issues`
takes `title` (required), `body`, `labels` (names), `assignees` (logins) and answers 201 with the issue
(`number`, `html_url`, `title`, `body`, `state`, `labels` as objects with `name`, `assignees` as objects with
`login`); a missing title is 422 `{"message": "Validation Failed", ...}`. `PATCH .../issues/{number}` updates
the given fields and answers 200. `GET .../issues?state=all&labels=a,b&per_page=N` lists newest first,
every label must match. Requests need `Authorization: Bearer <token>` (401 `{"message": "Bad credentials"}`);
an unknown repository is 404 `{"message": "Not Found"}`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from tests.fakes.loopback_json import JsonServer


class FakeGitHubIssues(JsonServer):
    def __init__(self, *, token: str, repositories: list[str]) -> None:
        super().__init__()
        self.token = token
        self.issues: dict[str, list[dict[str, Any]]] = {r: [] for r in repositories}

    def _issue(self, repo: str, number: int, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "number": number,
            "html_url": f"https://github.example/{repo}/issues/{number}",
            "title": fields["title"],
            "body": fields.get("body") or "",
            "state": "open",
            "labels": [{"name": n} for n in fields.get("labels") or []],
            "assignees": [{"login": a} for a in fields.get("assignees") or []],
        }

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        parts = path.strip("/").split("/")
        if len(parts) < 4 or parts[0] != "repos" or parts[3] != "issues":
            return 404, {"message": "Not Found"}
        repo = f"{unquote(parts[1])}/{unquote(parts[2])}"
        if repo not in self.issues:
            return 404, {"message": "Not Found"}
        issues = self.issues[repo]
        if len(parts) == 4 and method == "POST":
            if not isinstance(body, dict) or not body.get("title"):
                return 422, {
                    "message": "Validation Failed",
                    "errors": [{"field": "title", "code": "missing_field"}],
                }
            issue = self._issue(repo, len(issues) + 1, body)
            issues.append(issue)
            return 201, issue
        if len(parts) == 4 and method == "GET":
            wanted = [unquote(x) for x in query.get("labels", "").split(",") if x]
            state = query.get("state", "open")
            found = [
                i
                for i in reversed(issues)
                if all(w in [lab["name"] for lab in i["labels"]] for w in wanted)
                and (state == "all" or i["state"] == state)
            ]
            return 200, found[: int(query.get("per_page", "30"))]
        if len(parts) == 5 and method == "PATCH":
            number = int(parts[4])
            if not 1 <= number <= len(issues):
                return 404, {"message": "Not Found"}
            issue = issues[number - 1]
            for name in ("title", "body", "state"):
                if name in body:
                    issue[name] = body[name]
            if "labels" in body:
                issue["labels"] = [{"name": n} for n in body["labels"]]
            return 200, issue
        return 404, {"message": "Not Found"}
