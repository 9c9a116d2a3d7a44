"""WS-Management / WinRS message handling of the WinRM double.

Parses the SOAP envelopes pywinrm sends to ``http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd``
and answers them in the shape Windows uses (learned from the response bodies pypsrp captured from a real
host): Create, Command, Send, Receive, Signal, Delete.  Errors come back as SOAP faults carrying
``f:WSManFault Code=...``.

What runs inside a command is not decided here: a :class:`Shell` hands every finished command line
plus the bytes sent to its stdin to an executor callable, which returns a :class:`CommandResult`.
The command runs lazily, at the first Receive, because pywinrm sends stdin (Send) after Command.
"""

from __future__ import annotations

import base64
import dataclasses
import threading
import uuid
import xml.etree.ElementTree as ET
from typing import Callable, Dict, List, Optional
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
SHELL_NS = NS["rsp"]
ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "Create",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "Delete",
    SHELL_NS + "/Command": "Command",
    SHELL_NS + "/Send": "Send",
    SHELL_NS + "/Receive": "Receive",
    SHELL_NS + "/Signal": "Signal",
}
RESPONSE_ACTIONS = {
    "Create": "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
    "Delete": "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse",
    "Command": SHELL_NS + "/CommandResponse",
    "Send": SHELL_NS + "/SendResponse",
    "Receive": SHELL_NS + "/ReceiveResponse",
    "Signal": SHELL_NS + "/SignalResponse",
}

# WSManFault codes. Only SHELL_NOT_FOUND is taken from a real Windows capture; the others are
# MODELLED (chosen from the documented WSMan error range, not observed on a real host).
FAULT_SHELL_NOT_FOUND = 2150858843
FAULT_INVALID_RESOURCE_URI = 2150858770
FAULT_ACTION_NOT_SUPPORTED = 2150858771
FAULT_BAD_REQUEST = 2150858817


class WSManFault(Exception):
    """A request the double answers with a SOAP fault (HTTP 500)."""

    def __init__(self, code: int, subcode: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.subcode, self.reason, self.message = code, subcode, reason, message


@dataclasses.dataclass
class CommandRequest:
    """One command as the executor sees it: the command line (``command`` plus ``arguments``),
    the bytes that arrived on stdin, and the account that owns the shell."""

    command: str
    arguments: List[str]
    stdin: bytes
    owner: str

    @property
    def command_line(self) -> str:
        return " ".join([self.command] + self.arguments)


@dataclasses.dataclass
class CommandResult:
    """What a command produced."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


Executor = Callable[[CommandRequest], CommandResult]


@dataclasses.dataclass
class _Command:
    request: CommandRequest
    stdin_closed: bool = False
    result: Optional[CommandResult] = None


class Shell:
    """One WinRS shell and its commands."""

    def __init__(self, owner: str) -> None:
        self.id = str(uuid.uuid4()).upper()
        self.owner = owner
        self.commands: Dict[str, _Command] = {}


class ShellService:
    """The WinRS resource: keeps the shells (thread-safe) and answers SOAP requests."""

    def __init__(self, executor: Executor, address: str = "http://127.0.0.1/wsman") -> None:
        self.executor = executor
        self.address = address
        self._shells: Dict[str, Shell] = {}
        self._lock = threading.Lock()
        self.executed: List[CommandRequest] = []

    @property
    def open_shells(self) -> int:
        with self._lock:
            return len(self._shells)

    def handle(self, body: bytes, owner: str) -> bytes:
        """Answer one SOAP request; raises :class:`WSManFault` for a fault response."""
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise WSManFault(FAULT_BAD_REQUEST, "w:InvalidMessageInformationHeader", "The request is not valid XML.",
                             "The WS-Management service cannot process the request: %s" % exc)
        header = root.find("s:Header", NS)
        action_uri = _text(header, "a:Action")
        message_id = _text(header, "a:MessageID")
        resource = _text(header, "w:ResourceURI")
        operation = ACTIONS.get(action_uri)
        if operation is None:
            raise WSManFault(FAULT_ACTION_NOT_SUPPORTED, "a:ActionNotSupported",
                             "The action is not supported by the service.",
                             "The WS-Management service cannot process the request. The action %s is not supported."
                             % action_uri)
        if resource != SHELL_URI:
            raise WSManFault(FAULT_INVALID_RESOURCE_URI, "w:InvalidResourceURI",
                             "The WS-Management service cannot process the request. The resource URI is not valid.",
                             "The WS-Management service cannot find the resource %s." % resource)
        body_el = root.find("s:Body", NS)
        if operation == "Create":
            payload = self._create(owner)
        else:
            shell = self._shell(header)
            payload = getattr(self, "_" + operation.lower())(shell, body_el)
        return envelope(RESPONSE_ACTIONS[operation], message_id, payload)

    def _shell(self, header: ET.Element) -> Shell:
        shell_id = ""
        for selector in header.findall("w:SelectorSet/w:Selector", NS):
            if selector.get("Name") == "ShellId":
                shell_id = (selector.text or "").strip()
        with self._lock:
            shell = self._shells.get(shell_id)
        if shell is None:
            raise WSManFault(FAULT_SHELL_NOT_FOUND, "w:InvalidSelectors",
                             "The WS-Management service cannot process the request because the request contained "
                             "invalid selectors for the resource.",
                             "The request for the Windows Remote Shell with ShellId %s failed because the shell was "
                             "not found on the server." % shell_id)
        return shell

    def _create(self, owner: str) -> str:
        shell = Shell(owner)
        with self._lock:
            self._shells[shell.id] = shell
        return ('<x:ResourceCreated><a:Address>%s</a:Address><a:ReferenceParameters><w:ResourceURI>%s</w:ResourceURI>'
                '<w:SelectorSet><w:Selector Name="ShellId">%s</w:Selector></w:SelectorSet></a:ReferenceParameters>'
                '</x:ResourceCreated><rsp:Shell><rsp:ShellId>%s</rsp:ShellId><rsp:ResourceUri>%s</rsp:ResourceUri>'
                '<rsp:Owner>%s</rsp:Owner><rsp:InputStreams>stdin</rsp:InputStreams>'
                '<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>'
                % (escape(self.address), SHELL_URI, shell.id, shell.id, SHELL_URI, escape(owner)))

    def _command(self, shell: Shell, body: ET.Element) -> str:
        line = body.find("rsp:CommandLine", NS)
        if line is None:
            raise WSManFault(FAULT_BAD_REQUEST, "w:SchemaValidationError", "The request body has no CommandLine.",
                             "The WS-Management service cannot process the request: no rsp:CommandLine.")
        command = (_text(line, "rsp:Command") or "").strip()
        arguments = [a.text or "" for a in line.findall("rsp:Arguments", NS)]
        command_id = str(uuid.uuid4()).upper()
        shell.commands[command_id] = _Command(CommandRequest(command, arguments, b"", shell.owner))
        return "<rsp:CommandResponse><rsp:CommandId>%s</rsp:CommandId></rsp:CommandResponse>" % command_id

    def _send(self, shell: Shell, body: ET.Element) -> str:
        for stream in body.findall("rsp:Send/rsp:Stream", NS):
            cmd = self._cmd(shell, stream.get("CommandId"))
            cmd.request.stdin += base64.b64decode(stream.text or "")
            if (stream.get("End") or "").lower() == "true":
                cmd.stdin_closed = True
        return "<rsp:SendResponse/>"

    def _receive(self, shell: Shell, body: ET.Element) -> str:
        desired = body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId") if desired is not None else None
        cmd = self._cmd(shell, command_id)
        if cmd.result is None:
            self.executed.append(cmd.request)
            cmd.result = self.executor(cmd.request)
        result = cmd.result
        parts = []
        for name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
            if data:
                parts.append('<rsp:Stream Name="%s" CommandId="%s">%s</rsp:Stream>'
                             % (name, command_id, base64.b64encode(data).decode("ascii")))
            parts.append('<rsp:Stream Name="%s" CommandId="%s" End="true"></rsp:Stream>' % (name, command_id))
        parts.append('<rsp:CommandState CommandId="%s" State="%s/CommandState/Done"><rsp:ExitCode>%d</rsp:ExitCode>'
                     '</rsp:CommandState>' % (command_id, SHELL_NS, result.exit_code))
        return "<rsp:ReceiveResponse>%s</rsp:ReceiveResponse>" % "".join(parts)

    def _signal(self, shell: Shell, body: ET.Element) -> str:
        signal = body.find("rsp:Signal", NS)
        shell.commands.pop(signal.get("CommandId") if signal is not None else "", None)
        return "<rsp:SignalResponse/>"

    def _delete(self, shell: Shell, body: ET.Element) -> str:
        with self._lock:
            self._shells.pop(shell.id, None)
        return ""

    @staticmethod
    def _cmd(shell: Shell, command_id: Optional[str]) -> _Command:
        cmd = shell.commands.get(command_id or "")
        if cmd is None:
            raise WSManFault(FAULT_BAD_REQUEST, "w:InvalidSelectors", "The command is not known in this shell.",
                             "The WS-Management service cannot find the command %s in shell %s." % (command_id, shell.id))
        return cmd


def _text(parent: Optional[ET.Element], path: str) -> Optional[str]:
    if parent is None:
        return None
    node = parent.find(path, NS)
    return node.text.strip() if node is not None and node.text else None


def _ns_decl() -> str:
    return " ".join('xmlns:%s="%s"' % item for item in NS.items())


def envelope(action: str, relates_to: Optional[str], body: str) -> bytes:
    """A response envelope with the header fields Windows sends (RelatesTo = the request's MessageID)."""
    return ('<s:Envelope xml:lang="en-US" %s><s:Header><a:Action>%s</a:Action><a:MessageID>uuid:%s</a:MessageID>'
            '<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:RelatesTo>%s</a:RelatesTo>'
            '</s:Header><s:Body>%s</s:Body></s:Envelope>'
            % (_ns_decl(), action, str(uuid.uuid4()).upper(), escape(relates_to or ""), body)).encode("utf-8")


def fault_envelope(fault: WSManFault, relates_to: Optional[str] = None, machine: str = "winworker") -> bytes:
    """A SOAP 1.2 fault with the WSManFault detail that pywinrm turns into ``WSManFaultError``."""
    body = ('<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>%s</s:Value></s:Subcode></s:Code>'
            '<s:Reason><s:Text xml:lang="en-US">%s</s:Text></s:Reason><s:Detail><f:WSManFault Code="%d" Machine="%s">'
            '<f:Message>%s</f:Message></f:WSManFault></s:Detail></s:Fault>'
            % (fault.subcode, escape(fault.reason), fault.code, escape(machine), escape(fault.message)))
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)
