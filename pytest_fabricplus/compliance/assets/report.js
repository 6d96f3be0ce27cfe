(function(){
"use strict";
var t0=performance.now();
var D=JSON.parse(document.getElementById("fp-data").textContent);
var C=D.controls,H=D.hosts;
var NAME={p:"passed",f:"failed",e:"error",s:"skipped",w:"waived",n:"not-applicable","-":"absent"};
var LET={p:"P",f:"F",e:"E",s:"S",w:"W",n:"N","-":"-"};
var SVL={critical:"C",high:"H",medium:"M",low:"L",none:"N"};
function esc(s){return String(s).replace(/&/g,"&amp;").replace(/</g,"&lt;")
.replace(/>/g,"&gt;").replace(/"/g,"&quot;").replace(/'/g,"&#39;");}
function score(v){return v===null||v===undefined?"n/a":Number(v).toFixed(1)+"%";}
var newSet={};D["new"].forEach(function(p){newSet[p[0]+":"+p[1]]=1;});
var head=['<thead><tr><th class="h">host</th><th class="h2">score</th>'];
C.forEach(function(c,i){head.push('<th class="c" data-ci="'+i+'" data-control="'+esc(c.id)+
'" data-severity="'+esc(c.sv)+'" title="'+esc(c.id+" \u2014 "+c.t+" ("+c.sv+")")+
'"><div>'+esc(c.id)+'</div><span class="sv sv-'+esc(c.sv)+'">'+(SVL[c.sv]||"?")+
'</span></th>');});
head.push("</tr></thead><tbody>");
var body=[];var th=D.threshold;var cid=C.map(function(c){return esc(c.id);});
H.forEach(function(h,hi){var hid=esc(h.id);
var low=th!==null&&th!==undefined&&h.sc!==null&&h.sc<th;
body.push('<tr data-i="'+hi+'" data-host="'+hid+'"><td class="h" title="'+esc(h.a+" "+h.pf)+'">'+hid+
'</td><td class="sc'+(low?' low':'')+'" data-score="'+(h.sc===null?"":h.sc)+'">'+score(h.sc)+
'</td>');var s=h.s;
for(var i=0;i<s.length;i++){var k=s.charAt(i);
body.push('<td class="x'+(newSet[hi+":"+i]?' nw':'')+'" data-host="'+hid+
'" data-control="'+cid[i]+'" data-status="'+NAME[k]+'">'+LET[k]+'</td>');}
body.push("</tr>");});
body.push("</tbody>");
var M=document.getElementById("m");M.innerHTML=head.join("")+body.join("");
var hw=M.querySelector("thead th.h").getBoundingClientRect().width;
M.style.setProperty("--hw",hw+"px");
var rows=Array.prototype.slice.call(M.tBodies[0].rows),heads=M.tHead.rows[0].cells;
var panel=document.getElementById("panel"),pbody=document.getElementById("pbody");
function el(tag,text,cls){var e=document.createElement(tag);if(text!==undefined)e.textContent=text;
if(cls)e.className=cls;return e;}
function kv(dl,k,v){dl.appendChild(el("dt",k));dl.appendChild(el("dd",v));}
var selected=null,openCell=null;
var hostIndex={},ctlIndex={};H.forEach(function(h,i){hostIndex[h.id]=i;});C.forEach(function(c,i){ctlIndex[c.id]=i;});
function showCell(td){var hi=+td.parentNode.getAttribute("data-i"),ci=td.cellIndex-2;
var h=H[hi],c=C[ci],d=h.d[ci]||{},st=NAME[h.s.charAt(ci)];openCell=[h.id,c.id];
if(selected)selected.classList.remove("sel");selected=td;td.classList.add("sel");
pbody.textContent="";pbody.appendChild(el("h2",c.id+" on "+h.id));
var p=el("p");var b=el("span",LET[h.s.charAt(ci)]+" "+st);b.className="sv";
b.style.cssText="background:none;color:inherit;border:1px solid #999;padding:0 4px";
p.appendChild(b);if(newSet[hi+":"+ci])p.appendChild(el("strong"," new since the baseline"));
pbody.appendChild(p);
var dl=el("dl");kv(dl,"Title",c.t);kv(dl,"Severity",c.sv+(c.im!==null&&c.im!==undefined?
" (impact "+c.im+")":""));kv(dl,"Host",h.id+"  "+h.a+(h.pf?"  ("+h.pf+")":""));
kv(dl,"Host score",score(h.sc));if(d.du!==undefined)kv(dl,"Duration",Number(d.du).toFixed(3)+" s");
pbody.appendChild(dl);
if(d.m){pbody.appendChild(el("h3",st==="skipped"?"Reason":"Message"));pbody.appendChild(el("pre",d.m));}
if(d.w){var w=d.w;pbody.appendChild(el("h3",w.expired?"Waiver (EXPIRED \u2014 not applied)":"Waiver"));
var wl=el("dl");kv(wl,"Justification",w.justification||"");
kv(wl,"Expires",w.expires||"never");kv(wl,"Run",w.run===false?"no (check not run)":"yes");
kv(wl,"Source",w.source||"");pbody.appendChild(wl);}
pbody.appendChild(el("h3","Results per test"));var tb=el("table");tb.className="list";
var hr=el("tr");["test","status","time","message"].forEach(function(x){hr.appendChild(el("th",x));});
tb.appendChild(hr);var res=d.r||c.ts.map(function(t){return [t+"["+h.id+"]",st,null,d.m||""];});
res.forEach(function(r){var tr=el("tr");tr.appendChild(el("td",r[0]));tr.appendChild(el("td",r[1]));
tr.appendChild(el("td",r[2]===null||r[2]===undefined?"":Number(r[2]).toFixed(3)+" s"));
tr.appendChild(el("td",r[3]&&r[3]===d.m?"(the message above)":r[3]||""));tb.appendChild(tr);});pbody.appendChild(tb);
showControlMeta(c);panel.hidden=false;panel.setAttribute("data-host",h.id);
panel.setAttribute("data-control",c.id);panel.setAttribute("data-status",st);}
function showControlMeta(c){pbody.appendChild(el("h3","Control"));
if(c.d)pbody.appendChild(el("p",c.d));var dl=el("dl");
if(c.rf.length)kv(dl,"References",c.rf.join("  "));if(c.tg.length)kv(dl,"Tags",c.tg.join(", "));
kv(dl,"Tests",c.ts.join("  "));pbody.appendChild(dl);}
function showControl(ci){var c=C[ci];pbody.textContent="";pbody.appendChild(el("h2",c.id));
pbody.appendChild(el("p",c.t));var n={};H.forEach(function(h){var k=NAME[h.s.charAt(ci)];n[k]=(n[k]||0)+1;});
var dl=el("dl");kv(dl,"Severity",c.sv+(c.im!==null&&c.im!==undefined?" (impact "+c.im+")":""));
kv(dl,"Hosts",Object.keys(n).map(function(k){return k+" "+n[k];}).join(", "));
pbody.appendChild(dl);showControlMeta(c);panel.hidden=false;}
M.addEventListener("click",function(ev){var t=ev.target.closest("td.x");if(t){showCell(t);toHash();return;}
var hd=ev.target.closest("th.c");if(hd)showControl(+hd.getAttribute("data-ci"));});
function closePanel(){panel.hidden=true;openCell=null;if(selected)selected.classList.remove("sel");toHash();}
document.getElementById("pclose").addEventListener("click",closePanel);
document.addEventListener("keydown",function(ev){if(ev.key==="Escape")closePanel();});
/* filters */
var F=document.getElementById("filters");
function checked(name){return Array.prototype.filter.call(F.querySelectorAll("input[name="+name+"]"),
function(i){return i.checked;}).map(function(i){return i.value;});}
function glob(p){p=p.trim();if(!p)return null;return p.split(/[\s,]+/).filter(Boolean).map(function(x){
return new RegExp("^"+x.replace(/[.+^${}()|[\]\\]/g,"\\$&").replace(/\*/g,".*").replace(/\?/g,".")+"$");});}
var filtered=false,matchState=new Uint8Array(H.length*C.length),
colState=C.map(function(){return true;});
function apply(){var ft=performance.now();applyFilters();
document.body.setAttribute("data-filter-ms",String(Math.round(performance.now()-ft)));}
function applyFilters(){var sts=checked("status"),svs=checked("severity");
var hp=glob(document.getElementById("fhost").value),onlyNew=document.getElementById("fnew").checked;
var allSt=sts.length===0||sts.length===6,stOk={};sts.forEach(function(s){stOk[s]=1;});
var svOk={};svs.forEach(function(s){svOk[s]=1;});
var colOn=C.map(function(c){return svs.length===0||!!svOk[c.sv];});var colHas=C.map(function(){return false;});
var shown=0;var none=allSt&&svs.length===0&&!hp&&!onlyNew;
if(none&&!filtered){document.getElementById("fcount").textContent=H.length+" hosts, "+C.length+
" controls";return;}
filtered=true;var n=C.length;
for(var r=0;r<rows.length;r++){var row=rows[r],h=H[r];
var hostOn=!hp||hp.some(function(re){return re.test(h.id);});var any=false;
for(var i=0;i<n;i++){var k=NAME[h.s.charAt(i)];
var m=hostOn&&colOn[i]&&(allSt||!!stOk[k])&&(!onlyNew||!!newSet[r+":"+i]);
var v=m?2:1;if(matchState[r*n+i]!==v){matchState[r*n+i]=v;
row.cells[i+2].setAttribute("data-match",m?"1":"0");}if(m){any=true;colHas[i]=true;}}
if(row.hidden!==!any)row.hidden=!any;if(any)shown++;}
for(var j=0;j<n;j++){var on=colHas[j];if(colState[j]===on)continue;colState[j]=on;
heads[j+2].hidden=!on;for(var r2=0;r2<rows.length;r2++)rows[r2].cells[j+2].hidden=!on;}
document.getElementById("fcount").textContent=shown+" of "+H.length+" hosts, "+
colHas.filter(Boolean).length+" of "+C.length+" controls shown";}
function toHash(){var p=[];var s=checked("status"),v=checked("severity"),h=document.getElementById("fhost").value.trim();
if(s.length)p.push("status="+s.join(","));if(v.length)p.push("severity="+v.join(","));
if(h)p.push("host="+encodeURIComponent(h));if(document.getElementById("fnew").checked)p.push("new=1");
var so=document.getElementById("fsort").value;if(so)p.push("sort="+so);
if(openCell)p.push("dh="+encodeURIComponent(openCell[0]),"dc="+encodeURIComponent(openCell[1]));
history.replaceState(null,"",p.length?"#"+p.join("&"):location.pathname+location.search);}
function fromHash(){var q={};location.hash.replace(/^#/,"").split("&").forEach(function(kv){
if(!kv)return;var i=kv.indexOf("=");q[decodeURIComponent(i<0?kv:kv.slice(0,i))]=i<0?"":decodeURIComponent(kv.slice(i+1));});
["status","severity"].forEach(function(n){var want=(q[n]||"").split(",");
F.querySelectorAll("input[name="+n+"]").forEach(function(i){i.checked=want.indexOf(i.value)>=0;});});
document.getElementById("fhost").value=q.host||"";document.getElementById("fnew").checked=q["new"]==="1";
document.getElementById("fsort").value=q.sort==="score"||q.sort==="name"?q.sort:"";sortRows();apply();
if(q.dh!==undefined&&hostIndex[q.dh]!==undefined&&ctlIndex[q.dc]!==undefined){
showCell(rows[hostIndex[q.dh]].cells[ctlIndex[q.dc]+2]);}}
var sorted="";function sortRows(){var how=document.getElementById("fsort").value;
if(how===sorted)return;sorted=how;var order=H.map(function(h,i){return i;});
if(how==="score")order.sort(function(a,b){var x=H[a].sc,y=H[b].sc;if(x===null)x=1e9;if(y===null)y=1e9;
return x-y||a-b;});else if(how==="name")order.sort(function(a,b){return H[a].id<H[b].id?-1:H[a].id>H[b].id?1:0;});
var frag=document.createDocumentFragment();order.forEach(function(i){frag.appendChild(rows[i]);});
M.tBodies[0].appendChild(frag);}
var timer=null;F.addEventListener("input",function(ev){if(ev.target.id==="fsort")sortRows();if(ev.target.id==="fhost"){clearTimeout(timer);
timer=setTimeout(function(){apply();toHash();},120);}else{apply();toHash();}});
document.getElementById("freset").addEventListener("click",function(){
F.querySelectorAll("input[type=checkbox]").forEach(function(i){i.checked=false;});
document.getElementById("fhost").value="";apply();toHash();});
window.addEventListener("hashchange",fromHash);fromHash();
document.body.setAttribute("data-render-ms",String(Math.round(performance.now()-t0)));
document.body.setAttribute("data-ready","1");
})();
