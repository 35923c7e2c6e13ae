// chat.js — the chat page. It connects to the hub "chat" through this app's
// /api (negotiate answers with the SignalR service's URL and a token), then
// calls hub methods with connection.invoke: each is a SignalR trigger
// function of the app. It listens for newMessage, newConnection,
// connectionClosed and tick.
"use strict";

const $ = (id) => document.getElementById(id);
const users = new Map(); // connectionId → userId, as newConnection and connectionClosed tell
let connection = null;
let me = null; // whoami's answer: {userId, connectionId}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function addMessage(m) {
  const li = document.createElement("li");
  if (me && m.connectionId === me.connectionId) li.className = "me";
  const sender = document.createElement("span");
  sender.className = "sender";
  sender.textContent = m.sender;
  li.append(sender, ": ", m.text); // text nodes: a message never becomes markup
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function renderUsers() {
  const list = $("users");
  list.replaceChildren();
  for (const [connectionId, userId] of users) {
    const li = document.createElement("li");
    li.textContent = userId;
    li.title = "connection " + connectionId + " (click to message privately)";
    li.dataset.connectionId = connectionId;
    if (me && connectionId === me.connectionId) li.className = "me";
    li.addEventListener("click", () => { $("user").value = userId; });
    list.append(li);
  }
}

async function connect(name) {
  // Run locally, the typed name is the user id: negotiate reads it from the
  // header that App Service Authentication sets in Azure.
  connection = new signalR.HubConnectionBuilder()
    .withUrl(location.origin + "/api", { headers: { "x-ms-client-principal-id": name } })
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  connection.on("newMessage", addMessage);
  connection.on("newConnection", (c) => { users.set(c.connectionId, c.userId); renderUsers(); });
  connection.on("connectionClosed", (c) => { users.delete(c.connectionId); renderUsers(); });
  connection.on("tick", (t) => { $("clock").textContent = t.time; });
  connection.onclose((e) => {
    status("Disconnected" + (e ? ": " + e.message : "."), !!e);
    $("controls").disabled = true;
    $("connect-button").disabled = false;
  });

  $("connect-button").disabled = true;
  status("Connecting…");
  try {
    await connection.start();
    me = await connection.invoke("whoami");
  } catch (e) {
    status("Could not connect: " + e.message, true);
    $("connect-button").disabled = false;
    return;
  }
  users.set(me.connectionId, me.userId);
  renderUsers();
  status("Connected as " + me.userId + ".");
  $("controls").disabled = false;
  $("text").focus();
}

// call invokes a hub method and shows its error, if any, in the status line.
async function call(method, ...args) {
  try {
    await connection.invoke(method, ...args);
    return true;
  } catch (e) {
    status(e.message, true); // the function's error, e.g. "joinGroup: group is empty"
    return false;
  }
}

$("connect").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  if (name) connect(name);
});

$("chat").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("text").value;
  const user = $("user").value.trim();
  const group = $("group").value.trim();
  let sent;
  switch (e.submitter && e.submitter.value) {
    case "user":
      sent = await call("sendToUser", user, text);
      if (sent) status("Sent privately to " + user + ".");
      break;
    case "group":
      sent = await call("sendToGroup", group, text);
      if (sent) status("Sent to group " + group + ".");
      break;
    default:
      sent = await call("broadcast", text);
  }
  if (sent) $("text").value = "";
});

$("join").addEventListener("click", async () => {
  const group = $("group").value.trim();
  if (await call("joinGroup", group)) status("Joined group " + group + ".");
});

$("leave").addEventListener("click", async () => {
  const group = $("group").value.trim();
  if (await call("leaveGroup", group)) status("Left group " + group + ".");
});
