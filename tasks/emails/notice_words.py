"""What the document notices say, in each language the extractor supports: text only, the logic is in notices.

Placeholders are str.format fields; a pair is (one, many), picked by the number it counts. A failure's or a
warning's text says the cause in plain words and what the user can do; the technical error never appears.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str | tuple[str, str]]] = {
    "en": {
        "hello": "Hello {name},",
        "pages": ("{n} page", "{n} pages"),
        "passages": ("{n} passage can be searched", "{n} passages can be searched"),
        "ready_subject": "{filename} is ready to search",
        "warned_subject": "{filename} is ready to search, with a warning",
        "ready": "{filename} ({pages}) is now in your knowledge base: {passages}.",
        "failed_subject": "{filename} could not be added",
        "failed": "{filename} could not be added to your knowledge base.",
        "encrypted": "The PDF is encrypted with a password, so it could not be read. Save a copy without the "
                     "password (for example with \"Print to PDF\") and upload that copy.",
        "not_pdf": "The file is not a PDF. Export or save the document as a PDF, then upload it again.",
        "empty": "The file arrived empty. Upload it again; if this happens again, open it on your computer to "
                 "check that it has pages.",
        "no_text": "No text was found in it: it is probably scanned pages. Run text recognition (OCR) on it, or "
                   "export a PDF with selectable text, and upload it again.",
        "too_many_pages": "The PDF has more pages than one upload can take. Split it into smaller files and "
                          "upload them one by one.",
        "too_heavy": "The PDF is too large or too heavy to read in one go (very large images, for instance). "
                     "Split it into smaller files, or save it again with compressed images, and upload it again.",
        "corrupt": "The file seems corrupt (damaged), so it could not be read. Open it on your computer, save or "
                   "export it again as a PDF, and upload the new copy.",
        "on_our_side": "Something went wrong on our side while adding it. Nothing you sent is lost and there is "
                       "nothing you need to do: our team has been told and will add it or get back to you.",
        "partly_read": "Only part of its text could be read (about {share}%), so some passages will not be found "
                       "when you search. If that matters, save the PDF again (for example with \"Print to PDF\") "
                       "and upload the new copy.",
        "unread_pages": ("Page {pages} is a scanned image with no text layer: it was not read, and its text will "
                         "not be found when you search. To include it, run text recognition (OCR) on the PDF and "
                         "upload it again.",
                         "Pages {pages} are scanned images with no text layer: they were not read, and their text "
                         "will not be found when you search. To include them, run text recognition (OCR) on the "
                         "PDF and upload it again."),
        "and_more": "and {n} more",
        "other_warning": "Part of the document could not be read, so some passages may not be found when you "
                         "search.",
    },
    "fr": {
        "hello": "Bonjour {name},",
        "pages": ("{n} page", "{n} pages"),
        "passages": ("{n} passage peut être retrouvé par la recherche",
                     "{n} passages peuvent être retrouvés par la recherche"),
        "ready_subject": "{filename} est prêt pour la recherche",
        "warned_subject": "{filename} est prêt pour la recherche, avec un avertissement",
        "ready": "{filename} ({pages}) est maintenant dans votre base de connaissances : {passages}.",
        "failed_subject": "{filename} n'a pas pu être ajouté",
        "failed": "{filename} n'a pas pu être ajouté à votre base de connaissances.",
        "encrypted": "Le PDF est protégé par un mot de passe, il n'a donc pas pu être lu. Enregistrez-en une "
                     "copie sans mot de passe (par exemple avec « Imprimer en PDF ») et envoyez cette copie.",
        "not_pdf": "Le fichier n'est pas un PDF. Exportez ou enregistrez le document au format PDF, puis "
                   "envoyez-le à nouveau.",
        "empty": "Le fichier est arrivé vide. Envoyez-le à nouveau ; si cela se reproduit, ouvrez-le sur votre "
                 "ordinateur pour vérifier qu'il contient des pages.",
        "no_text": "Aucun texte n'y a été trouvé : ce sont sans doute des pages numérisées. Passez-le à la "
                   "reconnaissance de texte (OCR), ou exportez un PDF dont le texte est sélectionnable, puis "
                   "envoyez-le à nouveau.",
        "too_many_pages": "Le PDF a plus de pages qu'un seul envoi ne peut en contenir. Découpez-le en fichiers "
                          "plus petits et envoyez-les un par un.",
        "too_heavy": "Le PDF est trop volumineux ou trop lourd pour être lu d'un coup (de très grandes images, par "
                     "exemple). Découpez-le en fichiers plus petits, ou enregistrez-le avec des images "
                     "compressées, puis envoyez-le à nouveau.",
        "corrupt": "Le fichier semble endommagé, il n'a donc pas pu être lu. Ouvrez-le sur votre ordinateur, "
                   "enregistrez-le ou exportez-le à nouveau en PDF, et envoyez la nouvelle copie.",
        "on_our_side": "Un problème est survenu de notre côté pendant l'ajout. Rien de ce que vous avez envoyé "
                       "n'est perdu et vous n'avez rien à faire : notre équipe est prévenue et l'ajoutera ou "
                       "reviendra vers vous.",
        "partly_read": "Une partie seulement de son texte a pu être lue (environ {share} %) : certains passages "
                       "ne seront pas trouvés par la recherche. Si c'est important, enregistrez à nouveau le PDF "
                       "(par exemple avec « Imprimer en PDF ») et envoyez la nouvelle copie.",
        "unread_pages": ("La page {pages} est une image numérisée sans texte : elle n'a pas été lue et son "
                         "contenu ne sera pas trouvé par la recherche. Pour l'inclure, passez le PDF à la "
                         "reconnaissance de texte (OCR) et envoyez-le à nouveau.",
                         "Les pages {pages} sont des images numérisées sans texte : elles n'ont pas été lues et "
                         "leur contenu ne sera pas trouvé par la recherche. Pour les inclure, passez le PDF à la "
                         "reconnaissance de texte (OCR) et envoyez-le à nouveau."),
        "and_more": "et {n} autres",
        "other_warning": "Une partie du document n'a pas pu être lue : certains passages pourraient ne pas être "
                         "trouvés par la recherche.",
    },
    "de": {
        "hello": "Hallo {name},",
        "pages": ("{n} Seite", "{n} Seiten"),
        "passages": ("{n} Abschnitt ist durchsuchbar", "{n} Abschnitte sind durchsuchbar"),
        "ready_subject": "{filename} ist bereit für die Suche",
        "warned_subject": "{filename} ist bereit für die Suche, mit einem Hinweis",
        "ready": "{filename} ({pages}) ist jetzt in Ihrer Wissensdatenbank: {passages}.",
        "failed_subject": "{filename} konnte nicht hinzugefügt werden",
        "failed": "{filename} konnte nicht zu Ihrer Wissensdatenbank hinzugefügt werden.",
        "encrypted": "Das PDF ist mit einem Passwort geschützt und konnte deshalb nicht gelesen werden. Speichern "
                     "Sie eine Kopie ohne Passwort (zum Beispiel mit „Als PDF drucken“) und laden Sie diese Kopie "
                     "hoch.",
        "not_pdf": "Die Datei ist kein PDF. Exportieren oder speichern Sie das Dokument als PDF und laden Sie es "
                   "erneut hoch.",
        "empty": "Die Datei ist leer angekommen. Laden Sie sie erneut hoch; passiert das wieder, öffnen Sie sie "
                 "auf Ihrem Computer und prüfen Sie, ob sie Seiten hat.",
        "no_text": "Darin wurde kein Text gefunden: Wahrscheinlich sind es eingescannte Seiten. Lassen Sie eine "
                   "Texterkennung (OCR) darüber laufen oder exportieren Sie ein PDF mit markierbarem Text, und "
                   "laden Sie es erneut hoch.",
        "too_many_pages": "Das PDF hat mehr Seiten, als ein Upload aufnehmen kann. Teilen Sie es in kleinere "
                          "Dateien auf und laden Sie diese einzeln hoch.",
        "too_heavy": "Das PDF ist zu groß oder zu aufwendig, um es in einem Durchgang zu lesen (zum Beispiel sehr "
                     "große Bilder). Teilen Sie es in kleinere Dateien auf oder speichern Sie es mit komprimierten "
                     "Bildern neu, und laden Sie es erneut hoch.",
        "corrupt": "Die Datei scheint beschädigt zu sein und konnte deshalb nicht gelesen werden. Öffnen Sie sie "
                   "auf Ihrem Computer, speichern oder exportieren Sie sie erneut als PDF und laden Sie die neue "
                   "Kopie hoch.",
        "on_our_side": "Beim Hinzufügen ist bei uns etwas schiefgelaufen. Nichts von dem, was Sie gesendet "
                       "haben, ist verloren, und Sie müssen nichts tun: Unser Team ist informiert und fügt es "
                       "hinzu oder meldet sich bei Ihnen.",
        "partly_read": "Nur ein Teil des Textes konnte gelesen werden (etwa {share} %), daher werden manche "
                       "Abschnitte bei der Suche nicht gefunden. Wenn das wichtig ist, speichern Sie das PDF neu "
                       "(zum Beispiel mit „Als PDF drucken“) und laden Sie die neue Kopie hoch.",
        "unread_pages": ("Seite {pages} ist ein eingescanntes Bild ohne Text: Sie wurde nicht gelesen, und ihr "
                         "Text wird bei der Suche nicht gefunden. Um sie einzubeziehen, lassen Sie eine "
                         "Texterkennung (OCR) über das PDF laufen und laden Sie es erneut hoch.",
                         "Die Seiten {pages} sind eingescannte Bilder ohne Text: Sie wurden nicht gelesen, und "
                         "ihr Text wird bei der Suche nicht gefunden. Um sie einzubeziehen, lassen Sie eine "
                         "Texterkennung (OCR) über das PDF laufen und laden Sie es erneut hoch."),
        "and_more": "und {n} weitere",
        "other_warning": "Ein Teil des Dokuments konnte nicht gelesen werden, daher werden manche Abschnitte bei "
                         "der Suche vielleicht nicht gefunden.",
    },
    "es": {
        "hello": "Hola, {name}:",
        "pages": ("{n} página", "{n} páginas"),
        "passages": ("se puede buscar en {n} pasaje", "se puede buscar en {n} pasajes"),
        "ready_subject": "{filename} ya se puede buscar",
        "warned_subject": "{filename} ya se puede buscar, con un aviso",
        "ready": "{filename} ({pages}) ya está en tu base de conocimientos: {passages}.",
        "failed_subject": "No se pudo añadir {filename}",
        "failed": "No se pudo añadir {filename} a tu base de conocimientos.",
        "encrypted": "El PDF está protegido con contraseña, así que no se pudo leer. Guarda una copia sin "
                     "contraseña (por ejemplo con «Imprimir como PDF») y sube esa copia.",
        "not_pdf": "El archivo no es un PDF. Exporta o guarda el documento como PDF y vuelve a subirlo.",
        "empty": "El archivo llegó vacío. Vuelve a subirlo; si vuelve a pasar, ábrelo en tu ordenador para "
                 "comprobar que tiene páginas.",
        "no_text": "No se encontró texto en él: probablemente son páginas escaneadas. Pásale un reconocimiento de "
                   "texto (OCR) o exporta un PDF con texto seleccionable, y vuelve a subirlo.",
        "too_many_pages": "El PDF tiene más páginas de las que admite una sola subida. Divídelo en archivos más "
                          "pequeños y súbelos uno a uno.",
        "too_heavy": "El PDF es demasiado grande o pesado para leerlo de una vez (por ejemplo, por imágenes muy "
                     "grandes). Divídelo en archivos más pequeños, o guárdalo de nuevo con las imágenes "
                     "comprimidas, y vuelve a subirlo.",
        "corrupt": "El archivo parece dañado, así que no se pudo leer. Ábrelo en tu ordenador, guárdalo o "
                   "expórtalo de nuevo como PDF y sube la nueva copia.",
        "on_our_side": "Algo falló por nuestra parte al añadirlo. No se ha perdido nada de lo que enviaste y no "
                       "tienes que hacer nada: nuestro equipo ya está avisado y lo añadirá o se pondrá en contacto "
                       "contigo.",
        "partly_read": "Solo se pudo leer una parte de su texto (alrededor del {share} %), así que algunos pasajes "
                       "no aparecerán al buscar. Si es importante, guarda el PDF de nuevo (por ejemplo con "
                       "«Imprimir como PDF») y sube la nueva copia.",
        "unread_pages": ("La página {pages} es una imagen escaneada sin texto: no se leyó y su texto no aparecerá "
                         "al buscar. Para incluirla, pasa un reconocimiento de texto (OCR) al PDF y vuelve a "
                         "subirlo.",
                         "Las páginas {pages} son imágenes escaneadas sin texto: no se leyeron y su texto no "
                         "aparecerá al buscar. Para incluirlas, pasa un reconocimiento de texto (OCR) al PDF y "
                         "vuelve a subirlo."),
        "and_more": "y {n} más",
        "other_warning": "Una parte del documento no se pudo leer, así que puede que algunos pasajes no aparezcan "
                         "al buscar.",
    },
    "it": {
        "hello": "Ciao {name},",
        "pages": ("{n} pagina", "{n} pagine"),
        "passages": ("{n} passaggio è consultabile nella ricerca", "{n} passaggi sono consultabili nella ricerca"),
        "ready_subject": "{filename} è pronto per la ricerca",
        "warned_subject": "{filename} è pronto per la ricerca, con un avviso",
        "ready": "{filename} ({pages}) è ora nella tua base di conoscenza: {passages}.",
        "failed_subject": "Non è stato possibile aggiungere {filename}",
        "failed": "Non è stato possibile aggiungere {filename} alla tua base di conoscenza.",
        "encrypted": "Il PDF è protetto da password, quindi non è stato possibile leggerlo. Salvane una copia "
                     "senza password (per esempio con «Stampa in PDF») e carica quella copia.",
        "not_pdf": "Il file non è un PDF. Esporta o salva il documento come PDF, poi caricalo di nuovo.",
        "empty": "Il file è arrivato vuoto. Caricalo di nuovo; se succede ancora, aprilo sul tuo computer per "
                 "controllare che abbia delle pagine.",
        "no_text": "Non è stato trovato alcun testo: probabilmente sono pagine scansionate. Applica il "
                   "riconoscimento del testo (OCR), oppure esporta un PDF con testo selezionabile, e caricalo di "
                   "nuovo.",
        "too_many_pages": "Il PDF ha più pagine di quante ne possa accettare un singolo caricamento. Dividilo in "
                          "file più piccoli e caricali uno alla volta.",
        "too_heavy": "Il PDF è troppo grande o troppo pesante per essere letto in una volta sola (per esempio per "
                     "immagini molto grandi). Dividilo in file più piccoli, oppure salvalo di nuovo con immagini "
                     "compresse, e caricalo di nuovo.",
        "corrupt": "Il file sembra danneggiato, quindi non è stato possibile leggerlo. Aprilo sul tuo computer, "
                   "salvalo o esportalo di nuovo come PDF e carica la nuova copia.",
        "on_our_side": "Qualcosa è andato storto da parte nostra durante l'aggiunta. Nulla di ciò che hai inviato "
                       "è andato perso e non devi fare nulla: il nostro team è stato avvisato e lo aggiungerà o ti "
                       "ricontatterà.",
        "partly_read": "È stato possibile leggere solo una parte del testo (circa il {share}%), quindi alcuni "
                       "passaggi non verranno trovati nella ricerca. Se è importante, salva di nuovo il PDF (per "
                       "esempio con «Stampa in PDF») e carica la nuova copia.",
        "unread_pages": ("La pagina {pages} è un'immagine scansionata senza testo: non è stata letta e il suo "
                         "testo non verrà trovato nella ricerca. Per includerla, applica il riconoscimento del "
                         "testo (OCR) al PDF e caricalo di nuovo.",
                         "Le pagine {pages} sono immagini scansionate senza testo: non sono state lette e il loro "
                         "testo non verrà trovato nella ricerca. Per includerle, applica il riconoscimento del "
                         "testo (OCR) al PDF e caricalo di nuovo."),
        "and_more": "e altre {n}",
        "other_warning": "Non è stato possibile leggere una parte del documento, quindi alcuni passaggi potrebbero "
                         "non essere trovati nella ricerca.",
    },
}
