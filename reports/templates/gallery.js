/* The report's gallery: renders the items of the page's inline JSON (reports/gallery.py) and keeps
   each item's videos in step. Everything a user can write (prompts, tags, ids) enters the page as
   text nodes, never as markup. The address fragment holds the filters, so every link from a
   report's number opens exactly the videos behind it and the back button works. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("gallery-data").textContent);
  var MODELS = DATA.models, METRICS = DATA.metrics, DIMS = DATA.dimensions, PAIRS = DATA.pairs, FAMILIES = DATA.families;
  var OUTCOME = { win: 1, tie: 0, loss: -1 };
  var SIZES = [6, 12, 24, 48];
  var DEFAULT_SIZE = 12;
  var tagIndex = {};
  MODELS.forEach(function (m, k) { tagIndex[m.tag] = k; });
  var metricIndex = {};
  METRICS.forEach(function (m, k) { metricIndex[m.key] = k; });

  // ------------------------------------------------------------------ small DOM helpers
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) { return; }
        if (k === "text") { node.textContent = String(v); }
        else if (k === "className") { node.className = v; }
        else { node.setAttribute(k, v === true ? "" : String(v)); }
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function fmt(v) {
    if (v === null || v === undefined) { return "n/a"; }
    var a = Math.abs(v);
    if (a !== 0 && (a < 0.001 || a >= 1e5)) { return v.toExponential(2); }
    return String(Number(v.toPrecision(4)));
  }
  function domainName(d) { return d === "real" ? "Real" : d === "anime" ? "Anime" : (d || "(none)"); }
  function modelLabel(k) {
    var m = MODELS[k];
    return el("span", { className: "g-model", title: m.tag, text: m.name });
  }

  // ------------------------------------------------------------------ address <-> state
  function readState() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    var size = p.get("size");
    return {
      items: p.getAll("item"),
      domain: p.get("domain") || "", aspect: p.get("aspect") || "", category: p.get("category") || "",
      models: p.getAll("model").filter(function (t) { return t in tagIndex; }),
      a: p.get("a") || "", b: p.get("b") || "", dim: p.get("dim") || "", outcome: p.get("outcome") || "",
      vote: p.get("vote") || "", judge: p.get("judge") === "auto" ? "auto" : "human",
      family: p.get("family") || "",
      sort: p.get("sort") || "", sortmodel: p.get("sortmodel") || "", order: p.get("order") || "desc",
      page: Math.max(1, parseInt(p.get("page") || "1", 10) || 1),
      size: size === "all" ? "all" : (parseInt(size || "", 10) || DEFAULT_SIZE)
    };
  }
  var KEYS = ["item", "domain", "aspect", "category", "model", "a", "b", "dim", "outcome", "vote", "judge", "family",
              "sort", "sortmodel", "order", "page", "size"];
  function writeState(state) {
    var p = new URLSearchParams();
    KEYS.forEach(function (k) {
      var v = k === "item" ? state.items : k === "model" ? state.models : state[k];
      if (Array.isArray(v)) { v.forEach(function (x) { p.append(k, x); }); }
      else if (v !== "" && v !== null && v !== undefined && !(k === "page" && v === 1) && !(k === "size" && v === DEFAULT_SIZE)
               && !(k === "order" && v === "desc") && !(k === "judge" && v === "human")) { p.append(k, String(v)); }
    });
    var hash = p.toString();
    if (hash !== location.hash.replace(/^#/, "")) { location.hash = hash; } else { render(); }
  }

  // ------------------------------------------------------------------ selection
  function family(state) {
    for (var k = 0; k < FAMILIES.length; k++) { if (FAMILIES[k].family === state.family) { return FAMILIES[k]; } }
    return null;
  }
  function shownModels(state) {
    var fam = family(state);
    if (fam) { return fam.models.slice(); }
    if (state.models.length) { return state.models.map(function (t) { return tagIndex[t]; }); }
    if (state.a in tagIndex && state.b in tagIndex) { return [tagIndex[state.a], tagIndex[state.b]]; }
    return MODELS.map(function (m, k) { return k; });
  }
  function pairFilter(state) {
    if (!(state.a in tagIndex && state.b in tagIndex)) { return null; }
    if (!state.dim && !state.outcome && !state.vote) { return null; }
    var a = tagIndex[state.a], b = tagIndex[state.b];
    var dim = state.dim && state.dim !== "*" ? state.dim : null;
    return function (item) {
      return item.judged.some(function (e) {
        var pair = PAIRS[e[0]], sign;
        if (pair[0] === a && pair[1] === b) { sign = 1; } else if (pair[0] === b && pair[1] === a) { sign = -1; } else { return false; }
        if (dim && DIMS[e[1]].name !== dim) { return false; }
        var code = state.judge === "auto" ? e[6] : e[2];
        if (code === null) { return false; }
        if (state.outcome && code * sign !== OUTCOME[state.outcome]) { return false; }
        if (state.vote) {
          var want = OUTCOME[state.vote] * sign;  // the vote in the stored pair's orientation
          var count = state.judge === "auto" ? (e[6] === want ? 1 : 0) : (want === 1 ? e[3] : want === 0 ? e[4] : e[5]);
          if (!count) { return false; }
        }
        return true;
      });
    };
  }
  // A video the model made (shown, linked, refused or failed), as opposed to one it never made.
  function made(v) { return !!v && v.status !== "missing"; }
  function selectItems(state) {
    var byPair = pairFilter(state);
    var wanted = state.items.length ? new Set(state.items) : null;
    var fam = family(state);
    return DATA.items.filter(function (it) {
      if (wanted && !wanted.has(it.id)) { return false; }
      // A sweep strip is about the family's videos: items it never made are left out.
      if (fam && !fam.models.some(function (k) { return made(it.videos[k]); })) { return false; }
      if (state.domain && it.domain !== state.domain) { return false; }
      if (state.aspect && it.aspect !== state.aspect) { return false; }
      if (state.category && it.categories.indexOf(state.category) < 0) { return false; }
      if (byPair && !byPair(it)) { return false; }
      return true;
    });
  }
  function sortModel(state, shown) {
    if (state.sortmodel in tagIndex) { return tagIndex[state.sortmodel]; }
    return shown.length ? shown[0] : 0;
  }
  // Items in the order asked for, each with its rank and whether it is among the best or the worst.
  function sortItems(items, state, shown) {
    var rows = items.map(function (it, k) { return { item: it, pos: k, value: null, rank: null, end: "" }; });
    if (!state.sort) { return rows; }
    var higher = true;
    if (state.sort === "disagree") {
      rows.forEach(function (r) { r.value = r.item.disagree; });
    } else if (state.sort in metricIndex) {
      var m = sortModel(state, shown);
      higher = METRICS[metricIndex[state.sort]].higher;
      rows.forEach(function (r) {
        var v = r.item.scores[m][state.sort];
        r.value = v === undefined ? null : v;
      });
    } else { return rows; }
    var have = rows.filter(function (r) { return r.value !== null; });
    var none = rows.filter(function (r) { return r.value === null; });
    // "Best" is the highest value unless the metric is lower-is-better; a measurement (null) ranks by size.
    var bestFirst = function (x, y) { return (higher === false ? x.value - y.value : y.value - x.value) || x.pos - y.pos; };
    have.sort(bestFirst);
    have.forEach(function (r, k) { r.rank = k + 1; });
    var n = have.length;
    var ordered;
    if (state.order === "asc") { ordered = have.slice().reverse(); }
    else if (state.order === "ends") {
      ordered = [];
      for (var i = 0, j = n - 1; i <= j; i++, j--) {
        ordered.push(have[i]);
        if (j !== i) { ordered.push(have[j]); }
      }
    } else { ordered = have; }
    var goodWord = higher === null || higher === undefined ? "highest" : "best";
    var badWord = higher === null || higher === undefined ? "lowest" : "worst";
    if (state.sort === "disagree") { goodWord = "most disagreement"; badWord = "least disagreement"; }
    ordered.forEach(function (r) { r.end = r.rank <= Math.ceil(n / 2) ? goodWord : badWord; r.of = n; });
    return ordered.concat(none);
  }

  // ------------------------------------------------------------------ players kept in step
  var groups = [];
  var active = null;

  // One item's players as one: the group, not each video, decides whether they play. The videos
  // have no controls of their own, so the only changes from outside are a seek on one of them
  // (followed by the others) and a video reaching its end (the longest one ends or loops the item).
  function Group(card, entries) {
    var self = this;
    this.card = card;
    this.entries = entries;
    this.loop = true;
    this.rate = 1;
    this.isPlaying = false;
    // The longest video is the group's clock; shorter ones stop on their last frame.
    this.leader = entries.reduce(function (best, e) { return e.duration > best.duration ? e : best; }, entries[0]);
    this.fps = this.leader.fps;
    this.raf = 0;
    this.lastFix = 0;
    entries.forEach(function (e) {
      var v = e.video;
      v.addEventListener("seeking", function () {
        // A seek the group made itself is expected; any other one moves the whole item.
        if (e.expect !== undefined && Math.abs(v.currentTime - e.expect) < 1e-3) { e.expect = undefined; return; }
        e.expect = undefined;
        self.seek(v.currentTime, e);
      });
      v.addEventListener("ended", function () { if (e === self.leader) { self.onLeaderEnded(); } });
      v.addEventListener("click", function () { active = self; self.toggle(); });
    });
  }
  Group.prototype.time = function () { return this.leader.video.currentTime || 0; };
  Group.prototype.duration = function () { return this.leader.duration; };
  Group.prototype.setTime = function (e, t) {
    var v = e.video;
    var end = isFinite(v.duration) ? v.duration : e.duration;
    var target = Math.max(0, Math.min(t, end - 1e-3));
    if (Math.abs(v.currentTime - target) < 1e-4) { return; }
    e.expect = target;
    v.currentTime = target;
  };
  Group.prototype.seek = function (t, from) {
    var self = this;
    t = Math.max(0, Math.min(t, this.duration()));
    this.entries.forEach(function (e) { if (e !== from) { self.setTime(e, t); } });
    this.update(t);
  };
  Group.prototype.play = function () {
    active = this;
    this.load();  // a click can come before the item was seen to be on screen
    if (this.leader.video.ended || this.time() >= this.duration() - 1e-3) { this.seek(0); }
    var t = this.time();
    this.isPlaying = true;
    var self = this;
    this.entries.forEach(function (e) {
      self.setTime(e, t);
      if (t < e.duration - 1e-3) {
        var p = e.video.play();
        if (p && p.catch) { p.catch(function () {}); }  // a video not loaded yet starts when it is
      }
    });
    this.tick();
    this.card.classList.add("playing");
  };
  Group.prototype.pause = function () {
    this.isPlaying = false;
    this.entries.forEach(function (e) { if (!e.video.paused) { e.video.pause(); } });
    cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.card.classList.remove("playing");
    // Stop on one moment everywhere.
    this.seek(this.time(), this.leader);
  };
  Group.prototype.playing = function () { return this.isPlaying; };
  Group.prototype.toggle = function () { if (this.isPlaying) { this.pause(); } else { this.play(); } };
  Group.prototype.step = function (frames) {
    active = this;
    if (this.isPlaying) { this.pause(); }
    var n = Math.max(1, Math.round(this.duration() * this.fps));
    var k = Math.floor(this.time() * this.fps + 1e-6) + frames;
    k = Math.max(0, Math.min(n - 1, k));
    // A quarter into the frame: every player shows frame k, and rounding cannot land on k - 1.
    var t = (k + 0.25) / this.fps;
    var self = this;
    this.entries.forEach(function (e) { self.setTime(e, t); });
    this.update(t);
  };
  Group.prototype.setRate = function (rate) {
    this.rate = rate;
    this.entries.forEach(function (e) { e.video.playbackRate = rate; });
    var sel = this.card.querySelector(".g-rate");
    if (sel) { sel.value = String(rate); }
  };
  Group.prototype.onLeaderEnded = function () {
    if (!this.isPlaying) { return; }
    if (this.loop) { this.seek(0); this.play(); }
    else { this.pause(); }
  };
  Group.prototype.tick = function () {
    var self = this;
    cancelAnimationFrame(this.raf);
    var loop = function (now) {
      if (!self.isPlaying) { self.raf = 0; return; }
      var t = self.time();
      // Decoders drift apart over a few seconds; pull a follower back when it is 2 frames off.
      if (now - self.lastFix > 250) {
        self.lastFix = now;
        self.entries.forEach(function (e) {
          if (e === self.leader || e.video.paused || t >= e.duration) { return; }
          if (Math.abs(e.video.currentTime - t) > 2 / e.fps) { self.setTime(e, t); }
        });
      }
      self.update(t);
      self.raf = requestAnimationFrame(loop);
    };
    this.raf = requestAnimationFrame(loop);
  };
  Group.prototype.update = function (t) {
    var d = this.duration();
    var seek = this.card.querySelector(".g-seek");
    if (seek && document.activeElement !== seek) { seek.value = String(d ? Math.round(1000 * t / d) : 0); }
    var n = Math.max(1, Math.round(d * this.fps));
    var frame = Math.min(n, Math.floor(t * this.fps + 1e-6) + 1);
    var label = this.card.querySelector(".g-time");
    if (label) { label.textContent = "frame " + frame + " / " + n + " \u00b7 " + t.toFixed(2) + " s"; }
    var btn = this.card.querySelector(".g-play");
    if (btn) { btn.textContent = this.isPlaying ? "\u275a\u275a Pause" : "\u25b6 Play"; }
  };
  Group.prototype.load = function () {
    this.entries.forEach(function (e) {
      var v = e.video;
      if (!v.getAttribute("src") && v.dataset.src) { v.preload = "auto"; v.src = v.dataset.src; }
    });
  };
  Group.prototype.unload = function () {
    this.isPlaying = false;
    cancelAnimationFrame(this.raf);
    this.entries.forEach(function (e) {
      var v = e.video;
      v.pause();
      v.removeAttribute("src");
      v.load();  // releases the decoder
    });
  };

  // Videos load when their item scrolls near the viewport; leaving it pauses them.
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var g = entry.target._group;
      if (!g) { return; }
      if (entry.isIntersecting) { g.load(); } else if (g.isPlaying) { g.pause(); }
    });
  }, { rootMargin: "400px 0px" }) : null;

  // ------------------------------------------------------------------ one item
  function outcomeWord(code, aName, bName) {
    if (code === 1) { return aName + " better"; }
    if (code === -1) { return bName + " better"; }
    return "tie";
  }
  function humanTable(item, shown, state) {
    var shownSet = new Set(shown);
    var rows = {};
    item.judged.forEach(function (e) {
      var pair = PAIRS[e[0]];
      if (!shownSet.has(pair[0]) || !shownSet.has(pair[1])) { return; }
      (rows[e[0]] = rows[e[0]] || []).push(e);
    });
    var keys = Object.keys(rows);
    if (!keys.length) { return null; }
    var anyHuman = keys.some(function (k) { return rows[k].some(function (e) { return e[2] !== null; }); });
    var anyAuto = keys.some(function (k) { return rows[k].some(function (e) { return e[6] !== null; }); });
    var head = el("tr", null, [el("th", { scope: "col", text: "Pair" })].concat(DIMS.map(function (d) {
      return el("th", { scope: "col", title: d.label, text: d.short });
    })));
    var body = keys.map(function (k) {
      var pair = PAIRS[k];
      var a = pair[0], b = pair[1];
      // Read from the side the address asks for (a Table 2 cell's focal model).
      if (state.a in tagIndex && tagIndex[state.b] === a && tagIndex[state.a] === b) { a = pair[1]; b = pair[0]; }
      var sign = a === pair[0] ? 1 : -1;
      var byDim = {};
      rows[k].forEach(function (e) { byDim[e[1]] = e; });
      var cells = DIMS.map(function (d, di) {
        var e = byDim[di];
        if (!e) { return el("td", { className: "g-none", text: "\u2014" }); }
        var parts = [];
        var cls = "g-out";
        if (e[2] !== null) {
          var code = e[2] * sign;
          var votes = sign === 1 ? [e[3], e[4], e[5]] : [e[5], e[4], e[3]];
          cls += code === 1 ? " win" : code === -1 ? " loss" : " tie";
          parts.push(el("span", { className: "g-human", text: outcomeWord(code, MODELS[a].name, MODELS[b].name) }));
          parts.push(el("span", { className: "g-votes", title: "annotators' votes, W-T-L from " + MODELS[a].tag + "'s side", text: " (" + votes.join("-") + ")" }));
        }
        if (e[6] !== null) {
          var auto = e[6] * sign;
          var disagree = e[2] !== null && e[2] !== e[6];
          if (e[2] === null) { cls += auto === 1 ? " win" : auto === -1 ? " loss" : " tie"; }
          parts.push(el("span", { className: "g-auto" + (disagree ? " disagree" : ""),
            title: "metric-derived label" + (disagree ? ": differs from the people's" : ""),
            text: (e[2] !== null ? " metrics: " : "metrics: ") + outcomeWord(auto, MODELS[a].name, MODELS[b].name) }));
        }
        return el("td", { className: cls }, parts);
      });
      return el("tr", null, [el("th", { scope: "row" }, [modelLabel(a), " vs ", modelLabel(b)])].concat(cells));
    });
    var caption = !anyHuman ? "Metric-derived pairwise labels (AUTO, not human judgments)"
      : "Human judgments: the per-item label (the label most annotators gave) with their votes W-T-L from the first model's side"
        + (anyAuto ? "; below it the metric-derived label" : "");
    return el("table", { className: "g-judged" }, [el("caption", { text: caption }), el("thead", null, [head]), el("tbody", null, body)]);
  }

  function card(row, state, shown) {
    var it = row.item;
    var fam = family(state);
    var facts = [];
    if (it.domain) { facts.push(domainName(it.domain)); }
    if (it.aspect) { facts.push("aspect " + it.aspect); }
    it.categories.forEach(function (c) { facts.push(c); });
    var head = el("header", { className: "g-head" }, [
      el("h2", { text: it.id }),
      facts.length ? el("span", { className: "g-facts", text: facts.join(" \u00b7 ") }) : null,
      row.rank ? el("span", { className: "g-rank " + (/best|highest|most/.test(row.end) ? "top" : "bottom"),
                              text: "#" + row.rank + " of " + row.of + " (" + row.end + ")" }) : null,
      it.disagree ? el("span", { className: "g-disagree", title: "sum over judged pairs and dimensions of how far the metric-derived label is from the people's (0-2 each)",
                                 text: "metrics vs people: " + it.disagree }) : null
    ]);
    var input = el("div", { className: "g-input" }, [
      it.image ? el("img", { src: it.image, alt: "input image of " + it.id, loading: "lazy" })
               : (DATA.text_only ? null : el("div", { className: "g-noimage", text: "no input image" })),
      el("p", { className: "g-prompt", lang: /[\u3400-\u9fff]/.test(it.prompt) ? "zh" : null, text: it.prompt || "(no prompt)" })
    ]);
    var entries = [];
    var players = shown.map(function (k) {
      var v = it.videos[k];
      var scores = it.scores[k] || {};
      var metricList = el("dl", { className: "g-metrics" });
      METRICS.forEach(function (m) {
        if (!(m.key in scores)) { return; }
        var strong = m.key === state.sort && sortModel(state, shown) === k;
        metricList.appendChild(el("div", { className: strong ? "sorted" : null }, [
          el("dt", { title: m.key, text: m.label }), el("dd", { text: fmt(scores[m.key]) })]));
      });
      var media;
      if (v && v.src) {
        var video = el("video", { muted: true, playsinline: true, preload: "none", "data-src": v.src, poster: v.poster || null,
                                  width: v.w || null, height: v.h || null, "data-model": MODELS[k].tag });
        video.muted = true;
        var fps = v.fps || 25, frames = v.frames || 1;
        entries.push({ video: video, fps: fps, frames: frames, duration: frames / fps });
        media = video;
      } else {
        var why = !v ? "no video" : v.status === "not shown" ? "video not included (--media none)" : (v.status + (v.note ? ": " + v.note : ""));
        media = el("div", { className: "g-novideo", text: why });
      }
      var sweep = null;
      if (fam) {
        var at = fam.models.indexOf(k);
        var measured = scores.motion_score;
        sweep = el("div", { className: "g-sweep" }, [
          el("span", { text: fam.param + " " + fam.requested[at] }),
          el("span", { className: "g-measured", text: "measured " + (measured === undefined ? "n/a" : fmt(measured)) })]);
      }
      return el("figure", { className: "g-video", "data-model": MODELS[k].tag }, [
        media, el("figcaption", null, [modelLabel(k), sweep, metricList])]);
    });
    var controls = null;
    if (entries.length) {
      var rate = el("select", { className: "g-rate", "aria-label": "speed" }, [0.1, 0.25, 0.5, 1, 2].map(function (r) {
        return el("option", { value: String(r), selected: r === 1 ? true : null, text: r + "\u00d7" });
      }));
      controls = el("div", { className: "g-controls" }, [
        el("button", { type: "button", className: "g-play", text: "\u25b6 Play" }),
        el("button", { type: "button", className: "g-prev", title: "previous frame (\u2190)", text: "\u25c0 frame" }),
        el("button", { type: "button", className: "g-next", title: "next frame (\u2192)", text: "frame \u25b6" }),
        el("input", { type: "range", className: "g-seek", min: "0", max: "1000", value: "0", "aria-label": "seek all videos" }),
        el("span", { className: "g-time", text: "frame 1" }),
        el("label", null, ["speed ", rate]),
        el("label", null, [el("input", { type: "checkbox", className: "g-loop", checked: true }), " loop"])
      ]);
    }
    var node = el("article", { className: "g-item", "data-item": it.id }, [
      head, input, controls,
      el("div", { className: "g-players" + (shown.length <= 8 ? " fit" : ""), style: "--cols:" + Math.max(1, shown.length) }, players),
      humanTable(it, shown, state)
    ]);
    if (entries.length) {
      var g = new Group(node, entries);
      node._group = g;
      groups.push(g);
      node.querySelector(".g-play").addEventListener("click", function () { active = g; g.toggle(); });
      node.querySelector(".g-prev").addEventListener("click", function () { g.step(-1); });
      node.querySelector(".g-next").addEventListener("click", function () { g.step(1); });
      node.querySelector(".g-seek").addEventListener("input", function (ev) {
        active = g;
        g.seek(g.duration() * Number(ev.target.value) / 1000);
      });
      node.querySelector(".g-rate").addEventListener("change", function (ev) { g.setRate(Number(ev.target.value)); });
      node.querySelector(".g-loop").addEventListener("change", function (ev) { g.loop = ev.target.checked; });
      node.addEventListener("pointerdown", function () { active = g; });
      node.addEventListener("focusin", function () { active = g; });
    }
    return node;
  }

  // ------------------------------------------------------------------ controls
  var form = document.getElementById("g-filters");
  function option(value, label, selected) { return el("option", { value: value, selected: selected ? true : null, text: label }); }
  function uniq(values) { return Array.from(new Set(values)).filter(function (v) { return v; }); }
  function select(name, label, options) {
    var s = el("select", { name: name, "aria-label": label }, options);
    s.addEventListener("change", function () {
      var state = readState();
      state[name] = s.value;
      if (name === "size") { state.size = s.value === "all" ? "all" : Number(s.value); }
      if (name === "family" && s.value) { state.models = []; }
      state.page = 1;
      writeState(state);
    });
    return el("label", null, [label + " ", s]);
  }
  function buildControls(state) {
    form.textContent = "";
    var domains = uniq(DATA.items.map(function (i) { return i.domain; }));
    var aspects = uniq(DATA.items.map(function (i) { return i.aspect; }));
    if (domains.length) {
      form.appendChild(select("domain", "Domain", [option("", "all")].concat(domains.map(function (d) { return option(d, domainName(d), d === state.domain); }))));
    }
    if (aspects.length) {
      form.appendChild(select("aspect", "Aspect", [option("", "all")].concat(aspects.map(function (a) { return option(a, a, a === state.aspect); }))));
    }
    if (DATA.categories.length) {
      form.appendChild(select("category", "Category", [option("", "all")].concat(DATA.categories.map(function (c) { return option(c, c, c === state.category); }))));
    }
    if (FAMILIES.length) {
      form.appendChild(select("family", "Motion sweep", [option("", "off")].concat(FAMILIES.map(function (f) {
        return option(f.family, f.family + " (" + f.requested.join(", ") + ")", f.family === state.family);
      }))));
    }
    // Models: a checkbox each, in a disclosure (a run may have many).
    var shown = new Set(shownModels(state));
    var boxes = MODELS.map(function (m, k) {
      var box = el("input", { type: "checkbox", value: m.tag, checked: shown.has(k) ? true : null });
      box.addEventListener("change", function () {
        var st = readState();
        var picked = Array.from(form.querySelectorAll(".g-modelbox input:checked")).map(function (b) { return b.value; });
        st.models = picked.length === MODELS.length ? [] : picked;
        st.family = "";
        st.page = 1;
        writeState(st);
      });
      return el("label", { className: "g-modelbox", title: m.tag }, [box, " " + m.name]);
    });
    form.appendChild(el("details", { className: "g-models" }, [el("summary", { text: "Models (" + shown.size + " of " + MODELS.length + ")" })].concat(boxes)));
    var sortOptions = [option("", "item order", !state.sort)];
    if (DATA.items.some(function (i) { return i.disagree > 0; })) {
      sortOptions.push(option("disagree", "metrics vs people disagree", state.sort === "disagree"));
    }
    METRICS.forEach(function (m) { sortOptions.push(option(m.key, m.label, m.key === state.sort)); });
    form.appendChild(select("sort", "Sort by", sortOptions));
    var shownList = shownModels(state);
    if (state.sort && state.sort !== "disagree" && shownList.length > 1) {
      form.appendChild(select("sortmodel", "of", shownList.map(function (k) {
        return option(MODELS[k].tag, MODELS[k].name, k === sortModel(state, shownList));
      })));
    }
    if (state.sort) {
      form.appendChild(select("order", "Order", [option("desc", "best / highest first", state.order === "desc"),
        option("asc", "worst / lowest first", state.order === "asc"), option("ends", "best and worst first", state.order === "ends")]));
    }
    form.appendChild(select("size", "Per page", SIZES.map(function (n) { return option(String(n), String(n), n === state.size); })
      .concat([option("all", "all", state.size === "all")])));
  }
  function activeFilters(state) {
    var box = document.getElementById("g-active");
    box.textContent = "";
    var parts = [];
    if (state.items.length) { parts.push(state.items.length === 1 ? "item " + state.items[0] : state.items.length + " chosen items"); }
    if (state.a in tagIndex && state.b in tagIndex && (state.dim || state.outcome || state.vote)) {
      var dimText = state.dim && state.dim !== "*" ? (DIMS.filter(function (d) { return d.name === state.dim; })[0] || { label: state.dim }).label : "any dimension";
      var what = state.outcome ? "per-item label: " + MODELS[tagIndex[state.a]].name + " " + state.outcome
               : state.vote ? "at least one vote: " + MODELS[tagIndex[state.a]].name + " " + state.vote : "judged";
      parts.push((state.judge === "auto" ? "metric-derived, " : "") + MODELS[tagIndex[state.a]].name + " vs " + MODELS[tagIndex[state.b]].name + ", " + dimText + ", " + what);
    }
    if (!parts.length) { return; }
    var clear = el("a", { href: "#", text: "show all items" });
    box.appendChild(el("span", { text: "Showing: " + parts.join("; ") + " \u2014 " }));
    box.appendChild(clear);
  }

  // ------------------------------------------------------------------ page
  var list = document.getElementById("g-items");
  var pager = document.getElementById("g-pager");
  var count = document.getElementById("g-count");

  function render() {
    var state = readState();
    groups.forEach(function (g) { g.unload(); if (observer) { observer.unobserve(g.card); } });
    groups = [];
    active = null;
    buildControls(state);
    activeFilters(state);
    var shown = shownModels(state);
    var rows = sortItems(selectItems(state), state, shown);
    var size = state.size === "all" ? Math.max(1, rows.length) : state.size;
    var pages = Math.max(1, Math.ceil(rows.length / size));
    var page = Math.min(state.page, pages);
    var slice = rows.slice((page - 1) * size, page * size);
    list.textContent = "";
    slice.forEach(function (row) {
      var node = card(row, state, shown);
      list.appendChild(node);
      if (node._group) { if (observer) { observer.observe(node); } else { node._group.load(); } }
    });
    var first = rows.length ? (page - 1) * size + 1 : 0;
    count.textContent = rows.length ? "Items " + first + "\u2013" + (first + slice.length - 1) + " of " + rows.length
      + " \u00b7 " + shown.length + " model" + (shown.length === 1 ? "" : "s") : "No item matches these filters.";
    list.setAttribute("data-count", String(rows.length));
    list.setAttribute("data-hash", location.hash);  // what the items on show were selected by
    pager.textContent = "";
    if (pages > 1) {
      var go = function (p) { return function () { var st = readState(); st.page = p; writeState(st); window.scrollTo(0, 0); }; };
      var prev = el("button", { type: "button", disabled: page <= 1 ? true : null, text: "\u2190 Previous" });
      var next = el("button", { type: "button", disabled: page >= pages ? true : null, text: "Next \u2192" });
      prev.addEventListener("click", go(page - 1));
      next.addEventListener("click", go(page + 1));
      pager.appendChild(prev);
      pager.appendChild(el("span", { text: " page " + page + " of " + pages + " " }));
      pager.appendChild(next);
    }
  }

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (t && (t.tagName === "INPUT" && t.type !== "range" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable)) { return; }
    var g = active || groups[0];
    if (!g) { return; }
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      ev.preventDefault();
      g.step((ev.key === "ArrowRight" ? 1 : -1) * (ev.shiftKey ? 10 : 1));
    } else if (ev.key === " " && (!t || t.tagName !== "BUTTON")) {
      ev.preventDefault();
      g.toggle();
    }
  });
  window.addEventListener("hashchange", render);
  render();
})();
